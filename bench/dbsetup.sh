# dbsetup.sh - sourced by the database benches (databases.sh, restore.sh), after tests/lib's
# testlib.sh, servers.sh and dbdata.sh: the same data in each.
#
#   bench_db_setup SCALE MY_ROWS   a PostgreSQL holding pgbench at SCALE (database postgres)
#                                  and a MariaDB holding MY_ROWS orders (database bench);
#                                  sets PG_DATABASES and MY_DATABASES for db_conf
bench_db_setup() {
    local scale=$1 my_rows=$2
    start_postgres >/dev/null
    pgbench -i -q -s "$scale" -h "$PG_HOST" -p "$PG_PORT" -U postgres postgres >/dev/null 2>&1
    pg_sql -c "VACUUM ANALYZE" >/dev/null
    PG_DATABASES=postgres
    start_mariadb >/dev/null
    my_sql -e "CREATE DATABASE bench"
    my_sql bench -e "CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(64), note TEXT, amount DECIMAL(12,2), created DATETIME) ENGINE=InnoDB;
INSERT INTO orders SELECT seq, CONCAT('customer-', seq % 5000), CONCAT('order ', seq, ' for ', MD5(seq), ' shipped to street ', seq % 977), (seq % 10000) / 7, TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_$my_rows"
    MY_DATABASES=bench
}
