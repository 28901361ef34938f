# dbdata.sh - realistic test data and content fingerprints for the database tests.
# Source after servers.sh.
#
#   pg_load DB SCALE     pgbench -i -s SCALE into DB (created), plus a table of bytea, json,
#                        jsonb, arrays, text with every kind of character, and large objects
#   pg_fingerprint DB    one line per table: name, row count, md5 of COPY ... ORDER BY key;
#                        plus the md5 of every large object
#   my_load DB           tables with blobs, utf8mb4 text, a trigger, a procedure, a function,
#                        a view, an event (created in DB)
#   my_fingerprint DB    CHECKSUM TABLE and row count per table, and the routine/view/trigger
#                        definitions
#   redis_load           strings, hashes, lists, sets, sorted sets, streams (with a consumer
#                        group), keys with TTLs, big values, in db 0 and db 3
#   redis_fingerprint    DEBUG DIGEST and the key count per database

pg_load() {
    local db=$1 scale=$2
    pg_sql -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null || return 1
    pgbench -i -q -s "$scale" -h "$PG_HOST" -p "$PG_PORT" -U postgres "$db" >/dev/null 2>&1 ||
        { echo "pg_load: pgbench -i failed" >&2; return 1; }
    pg_sql -d "$db" >/dev/null <<'SQL' || return 1
CREATE TABLE kinds (
    id int PRIMARY KEY,
    b bytea, j json, jb jsonb, a int[], t text[], s text, ts timestamptz, n numeric
);
INSERT INTO kinds
SELECT i,
       decode(md5(i::text) || md5((i * 7)::text), 'hex') || '\x00ff00'::bytea,
       json_build_object('i', i, 'name', 'row ' || i, 'tags', json_build_array('a', 'b', i)),
       jsonb_build_object('nested', jsonb_build_object('x', i, 'y', 'ü€😀'), 'n', i * 1.5),
       ARRAY[i, i + 1, i * 2],
       ARRAY['quote''s', E'tab\there', 'comma,', 'null', NULL],
       E'line1\nline2\\backslash\t' || repeat('é', i % 50),
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute',
       i / 7.0
FROM generate_series(1, 3000) AS i;
CREATE TABLE lobs (id int PRIMARY KEY, lo oid);
INSERT INTO lobs SELECT i, lo_from_bytea(0, convert_to(repeat('large object ' || i, 500), 'UTF8'))
FROM generate_series(1, 20) AS i;
CREATE VIEW kinds_v AS SELECT id, s FROM kinds WHERE id % 2 = 0;
CREATE FUNCTION add_one(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1';
SQL
}

pg_fingerprint() {
    local db=$1 t
    for t in $(pg_sql -d "$db" -tAc "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"); do
        printf '%s %s %s\n' "$t" \
            "$(pg_sql -d "$db" -tAc "SELECT count(*) FROM public.$t")" \
            "$(pg_sql -d "$db" -c "COPY (SELECT * FROM public.$t AS x ORDER BY x::text) TO STDOUT" | md5sum | cut -c1-32)"
    done
    printf 'large_objects %s\n' "$(pg_sql -d "$db" -tAc "SELECT string_agg(md5(lo_get(oid)), ',' ORDER BY oid) FROM pg_largeobject_metadata")"
    printf 'views %s\n' "$(pg_sql -d "$db" -tAc "SELECT string_agg(viewname || ':' || md5(definition), ',' ORDER BY viewname) FROM pg_views WHERE schemaname = 'public'")"
}

my_load() {
    local db=$1
    my_sql -e "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4" || return 1
    my_sql "$db" <<'SQL' || return 1
CREATE TABLE items (
    id INT PRIMARY KEY AUTO_INCREMENT,
    name VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL,
    body MEDIUMTEXT CHARACTER SET utf8mb4,
    data LONGBLOB,
    price DECIMAL(12,2),
    created DATETIME(6)
) ENGINE=InnoDB;
INSERT INTO items (name, body, data, price, created)
SELECT CONCAT('item ', seq, ' 😀 ü € 中文'),
       REPEAT(CONCAT('text ', seq, ' \'quoted\' \\ back\tslash\n'), 1 + seq % 20),
       UNHEX(CONCAT(MD5(seq), MD5(seq + 1), '00FF00')),
       seq / 3,
       TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND
FROM seq_1_to_5000;
CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, item_id INT, note VARCHAR(100)) ENGINE=InnoDB;
CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW
    INSERT INTO audit (item_id, note) VALUES (NEW.id, 'inserted');
CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10;
DELIMITER //
CREATE PROCEDURE add_item(IN n VARCHAR(200))
BEGIN
    INSERT INTO items (name, price, created) VALUES (n, 1, NOW(6));
END//
CREATE FUNCTION double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2//
DELIMITER ;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit WHERE id < 0;
CALL add_item('via procedure ✓');
SQL
}

my_fingerprint() {
    local db=$1 t
    for t in $(my_sql -N -B "$db" -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$db' AND table_type = 'BASE TABLE' ORDER BY 1"); do
        printf '%s %s %s\n' "$t" "$(my_sql -N -B "$db" -e "SELECT COUNT(*) FROM \`$t\`")" \
            "$(my_sql -N -B "$db" -e "CHECKSUM TABLE \`$t\` EXTENDED" | cut -f2)"
    done
    my_sql -N -B "$db" -e "SELECT routine_type, routine_name, MD5(routine_definition) FROM information_schema.routines WHERE routine_schema = '$db' ORDER BY 1, 2"
    my_sql -N -B "$db" -e "SELECT trigger_name, MD5(action_statement) FROM information_schema.triggers WHERE trigger_schema = '$db' ORDER BY 1"
    my_sql -N -B "$db" -e "SELECT table_name, MD5(REPLACE(view_definition, '\`$db\`.', '')) FROM information_schema.views WHERE table_schema = '$db' ORDER BY 1"
    my_sql -N -B "$db" -e "SELECT event_name, MD5(event_definition) FROM information_schema.events WHERE event_schema = '$db' ORDER BY 1"
}

redis_load() {
    {
        local i
        for ((i = 0; i < 2000; i++)); do
            echo "SET str:$i value-$i-ü😀"
        done
        echo "SET int:1 12345"
        echo "SET big:1 $(head -c 300000 /dev/urandom | base64 -w0)"
        for ((i = 0; i < 200; i++)); do
            echo "HSET hash:small:$i f1 v1 f2 $i"
            echo "RPUSH list:$i a b c $i"
            echo "SADD set:$i x y $i"
            echo "SADD intset:$i 1 2 3 $i"
            echo "ZADD zset:$i 1 one 2.5 two $i n$i"
            echo "SET ttl:$i v$i PX 3600000"
            echo "XADD stream:$((i % 5)) * field $i other v"
        done
        for ((i = 0; i < 600; i++)); do
            echo "HSET hash:big field$i $(printf 'v%.0s' {1..80})$i"
            echo "RPUSH list:big item$i"
            echo "SADD set:big member$i"
            echo "ZADD zset:big $i member$i"
        done
        echo "XGROUP CREATE stream:0 grp 0"
        echo "XREADGROUP GROUP grp consumer1 COUNT 3 STREAMS stream:0 >"
        echo "SELECT 3"
        echo "SET other:db value"
        echo "HSET other:hash a 1"
        echo "SET other:ttl x EX 7200"
    } | rcli >/dev/null
}

redis_fingerprint() {
    local db
    for db in 0 3; do
        printf 'db%s keys=%s digest=%s\n' "$db" "$(rcli -n "$db" DBSIZE)" "$(rcli -n "$db" DEBUG DIGEST)"
    done
}

# db_conf DIR: DIR/coffer.conf with a local repository and a [source pg|my|cache] plus a
# [job pg|my|cache] for each server started so far (their password files), repository
# initialised. Later sections may be appended by the test.
db_conf() {
    local d=$1
    make_local_conf "$d" "$T" || return 1
    if [ -n "${PG_HOST:-}" ]; then
        cat >>"$d/coffer.conf" <<CONF

[source pg]
type = postgres
host = $PG_HOST
port = $PG_PORT
user = $PG_USER
password-file = $PG_PASSFILE
databases = ${PG_DATABASES:-all}

[job pg]
sources = pg
CONF
    fi
    if [ -n "${MY_SOCK:-}" ]; then
        cat >>"$d/coffer.conf" <<CONF

[source my]
type = mariadb
socket = $MY_SOCK
user = $MY_USER
password-file = $MY_PASSFILE
databases = ${MY_DATABASES:-all}

[job my]
sources = my
CONF
    fi
    if [ -n "${REDIS_SOCK:-}" ]; then
        cat >>"$d/coffer.conf" <<CONF

[source cache]
type = redis
socket = $REDIS_SOCK
user = $REDIS_USER
password-file = $REDIS_PASSFILE

[job cache]
sources = cache
CONF
    fi
    backupd --config "$d/coffer.conf" init >/dev/null 2>&1
}

# backups SOURCE CONF: the number of committed backups of SOURCE
backups() {
    catalog --config "$2" list --source "$1" --json 2>/dev/null |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

# latest_info CONF SOURCE KEY...: a value from the newest backup's info (python expression path)
latest_info() {
    local conf=$1 src=$2 expr=$3 id
    id=$(catalog --config "$conf" list --source "$src" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
    catalog --config "$conf" show "$id" --json |
        python3 -c "import json,sys; m=json.load(sys.stdin); i=m.get('info', m); print($expr)"
}

# wait_child PARENT_PID NAME [SECONDS]: the pid of PARENT's child process NAME once it runs
wait_child() {
    local parent=$1 name=$2 n=${3:-30} i pid
    for ((i = 0; i < n * 50; i++)); do
        pid=$(pgrep -P "$parent" -x "$name" | head -n 1)
        [ -n "$pid" ] && { echo "$pid"; return 0; }
        kill -0 "$parent" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

# wait_io PID BYTES: until process PID has written BYTES (from /proc/PID/io)
wait_io() {
    local pid=$1 want=$2 i w
    for ((i = 0; i < 1500; i++)); do
        w=$(awk '/^wchar/ {print $2}' "/proc/$pid/io" 2>/dev/null) || return 1
        [ -n "$w" ] && [ "$w" -ge "$want" ] && return 0
        sleep 0.01
    done
    return 1
}
