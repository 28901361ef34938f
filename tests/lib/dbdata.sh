# dbdata.sh - realistic test data and content fingerprints for the database tests.
# Source after servers.sh.
#
#   pg_load DB SCALE     pgbench -i -s SCALE into DB (created), plus a table of bytea, json,
#                        jsonb, arrays, text with every kind of character, and large objects,
#                        plus pg_load_schema
#   pg_load_schema DB    what real schemas hold: a partitioned table with keys (and a foreign
#                        key to it), domains, enums, an identity column, a materialized view
#                        with its index, triggers, routines whose bodies hold comments, row
#                        security, an extension's index, non-ASCII identifiers and comments
#   pg_schema DB         the schema dump (pg_dump --schema-only), for comparing
#   pg_fingerprint DB    one line per table: name, row count, md5 of COPY ... ORDER BY key;
#                        plus the md5 of every large object
#   my_load DB           tables with blobs, utf8mb4 text, a trigger, a procedure, a function,
#                        a view, an event (created in DB), plus my_load_schema
#   my_load_schema DB    routines and a trigger whose bodies hold comments (# -- and /* */),
#                        a partitioned table with keys, a view with DEFINER, spatial and
#                        FULLTEXT indexes, a sequence, a CHECKed column, foreign
#                        keys, non-ASCII identifiers
#   my_schema DB         the schema dump (mariadb-dump --no-data --routines --triggers
#                        --events), without the comment lines naming the database, for
#                        comparing
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
    pg_load_schema "$db"
}

pg_load_schema() {
    local db=$1
    pg_sql -d "$db" >/dev/null <<'SQL' || { echo "pg_load_schema: failed" >&2; return 1; }
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE SCHEMA "café";
COMMENT ON SCHEMA "café" IS 'schéma à accents ✓';
CREATE DOMAIN "café".email AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE DOMAIN "café".positive AS numeric(12,2) NOT NULL CHECK (VALUE > 0);
CREATE TYPE "café".état AS ENUM ('ouvert', 'payé', 'annulé');
CREATE TABLE "café".clients (
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "prénom" text NOT NULL,
    courriel "café".email UNIQUE
);
-- a partitioned table whose partitions inherit the primary key (pg_restore --clean fails on it)
CREATE TABLE "café".commandes (
    id bigint NOT NULL,
    le date NOT NULL,
    client int REFERENCES "café".clients (id),
    total "café".positive,
    état "café".état NOT NULL DEFAULT 'ouvert',
    note text,
    PRIMARY KEY (id, le)
) PARTITION BY RANGE (le);
CREATE TABLE "café".commandes_2026_01 PARTITION OF "café".commandes
    FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE "café".commandes_2026_02 PARTITION OF "café".commandes
    FOR VALUES FROM ('2026-02-01') TO ('2026-03-01') PARTITION BY HASH (id);
CREATE TABLE "café".commandes_2026_02_a PARTITION OF "café".commandes_2026_02
    FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE "café".commandes_2026_02_b PARTITION OF "café".commandes_2026_02
    FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE "café".commandes_autres PARTITION OF "café".commandes DEFAULT;
CREATE INDEX commandes_client ON "café".commandes (client);
CREATE INDEX commandes_note_trgm ON "café".commandes USING gin (note gin_trgm_ops);
-- a foreign key that references the partitioned table
CREATE TABLE "café".lignes (
    commande bigint, le date, n int, article text,
    PRIMARY KEY (commande, le, n),
    FOREIGN KEY (commande, le) REFERENCES "café".commandes (id, le) ON DELETE CASCADE
);
INSERT INTO "café".clients ("prénom", courriel)
SELECT 'Zoë ' || i, 'z' || i || '@example.org' FROM generate_series(1, 50) i;
INSERT INTO "café".commandes (id, le, client, total, note)
SELECT i, date '2026-01-01' + (i % 90), 1 + i % 50, i * 1.5, 'note n°' || i
FROM generate_series(1, 600) i;
INSERT INTO "café".lignes SELECT id, le, 1, 'article ' || id FROM "café".commandes;
-- a routine whose body holds comments of both kinds
CREATE FUNCTION "café".total_du(c int) RETURNS numeric LANGUAGE plpgsql STABLE AS $body$
-- the sum of the open orders
/* a block comment,
   over two lines */
BEGIN
    RETURN (SELECT coalesce(sum(total), 0) FROM "café".commandes WHERE client = c AND état = 'ouvert');
END;
$body$;
COMMENT ON FUNCTION "café".total_du(int) IS 'somme due ✓';
CREATE PROCEDURE "café".annuler(c bigint) LANGUAGE sql AS $$
    -- a comment in a procedure
    UPDATE "café".commandes SET état = 'annulé' WHERE id = c;
$$;
CREATE FUNCTION "café".horodate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.note := coalesce(NEW.note, '') || ' /* touché */'; -- marks the row
    RETURN NEW;
END;
$$;
CREATE TRIGGER commandes_touche BEFORE UPDATE ON "café".commandes
    FOR EACH ROW WHEN (OLD.état IS DISTINCT FROM NEW.état) EXECUTE FUNCTION "café".horodate();
CREATE MATERIALIZED VIEW "café".ventes_par_jour AS
    SELECT le, count(*) AS n, sum(total) AS total FROM "café".commandes GROUP BY le;
CREATE UNIQUE INDEX ventes_par_jour_le ON "café".ventes_par_jour (le);
CREATE VIEW "café".clients_actifs WITH (security_barrier) AS
    SELECT c.id, c."prénom" FROM "café".clients c
    WHERE EXISTS (SELECT 1 FROM "café".commandes o WHERE o.client = c.id);
ALTER TABLE "café".clients ENABLE ROW LEVEL SECURITY;
CREATE POLICY clients_visibles ON "café".clients USING ("prénom" NOT LIKE 'caché%');
CALL "café".annuler(7);
SQL
}

pg_schema() {
    "$PG_BINDIR/pg_dump" --schema-only -h "$PG_HOST" -p "$PG_PORT" -U postgres "$1" |
        grep -Ev '^\\(un)?restrict '
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
    my_load_schema "$db"
}

my_load_schema() {
    local db=$1
    # --comments: the client would strip the routines' comments before the server sees them
    my_sql --comments "$db" <<'SQL' || { echo "my_load_schema: failed" >&2; return 1; }
CREATE TABLE `größe` (
    id INT PRIMARY KEY AUTO_INCREMENT,
    `naïve` VARCHAR(40) CHARACTER SET utf8mb4 NOT NULL,
    kg DECIMAL(8,3) CHECK (kg >= 0),
    UNIQUE KEY `naïve_u` (`naïve`)
) ENGINE=InnoDB COMMENT='tableau à accents ✓';
INSERT INTO `größe` (`naïve`, kg) SELECT CONCAT('ä', seq), seq / 7 FROM seq_1_to_200;
-- a partitioned table with a primary key and a secondary key
CREATE TABLE readings (
    id INT NOT NULL,
    at DATE NOT NULL,
    v DECIMAL(10,2),
    PRIMARY KEY (id, at),
    KEY readings_v (v)
) ENGINE=InnoDB PARTITION BY RANGE (YEAR(at)) (
    PARTITION p2025 VALUES LESS THAN (2026),
    PARTITION p2026 VALUES LESS THAN (2027),
    PARTITION pmax VALUES LESS THAN MAXVALUE
);
INSERT INTO readings SELECT seq, DATE '2025-06-01' + INTERVAL seq DAY, seq * 1.5 FROM seq_1_to_900;
CREATE TABLE places (
    id INT PRIMARY KEY,
    name VARCHAR(100),
    pos POINT NOT NULL,
    area POLYGON,
    SPATIAL INDEX places_pos (pos)
) ENGINE=InnoDB;
INSERT INTO places SELECT seq, CONCAT('lieu ', seq), ST_PointFromText(CONCAT('POINT(', seq, ' ', seq / 2, ')')),
    ST_PolygonFromText('POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))') FROM seq_1_to_100;
CREATE TABLE docs (
    id INT PRIMARY KEY,
    place INT,
    body TEXT,
    FULLTEXT KEY docs_body (body),
    CONSTRAINT docs_place FOREIGN KEY (place) REFERENCES places (id) ON DELETE SET NULL
) ENGINE=InnoDB;
INSERT INTO docs SELECT seq, 1 + seq % 100, CONCAT('le document numéro ', seq, ' parle de café') FROM seq_1_to_300;
CREATE SEQUENCE ticket START WITH 100 INCREMENT BY 5;
CREATE DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `vue_größe` AS
    SELECT id, `naïve` FROM `größe` WHERE kg > 1;
DELIMITER //
CREATE DEFINER=`root`@`localhost` PROCEDURE `prüfe`(IN n INT, OUT total DECIMAL(12,2))
    COMMENT 'a procedure with comments in its body'
BEGIN
    # a hash comment
    -- a dash comment
    /* a block comment
       over two lines */
    SELECT SUM(v) INTO total FROM readings WHERE id <= n; /* trailing */
END//
CREATE FUNCTION share_of(x DECIMAL(10,2)) RETURNS DECIMAL(10,4) DETERMINISTIC
BEGIN
    /* the share of x in all readings */
    RETURN x / (SELECT SUM(v) FROM readings); # never zero here
END//
CREATE TRIGGER docs_bi BEFORE INSERT ON docs FOR EACH ROW
BEGIN
    # keep the body trimmed
    SET NEW.body = TRIM(NEW.body); /* and nothing else */
END//
DELIMITER ;
SQL
    # non-ASCII literals in the DDL of UTF-8 columns (ENUM, SET, DEFAULT, CHECK, a generated
    # column), INET6 and UUID (a dump in a binary session stores them as NULL), and every byte
    # value in a BLOB and a VARBINARY (ENUM and SET definitions cannot hold 4-byte UTF-8: the
    # server keeps them in utf8mb3 and makes such a value '?')
    my_sql "$db" <<SQL || { echo "my_load_schema: allbytes failed" >&2; return 1; }
CREATE TABLE allbytes (
    id INT PRIMARY KEY,
    mood ENUM('café', 'naïve', 'ü') NOT NULL DEFAULT 'naïve',
    tags SET('é', 'ß', 'x'),
    label VARCHAR(20) DEFAULT 'ünbekannt' CHECK (label <> 'verboten ✗'),
    shout VARCHAR(40) AS (CONCAT(label, ' ‼')) VIRTUAL,
    ip INET6,
    uid UUID,
    b BLOB,
    vb VARBINARY(300)
) ENGINE=InnoDB;
INSERT INTO allbytes (id, mood, tags, label, ip, uid, b, vb) VALUES
    (1, 'café', 'é,x', 'été', '2001:db8::5c', '123e4567-e89b-12d3-a456-426614174000',
     UNHEX('$(printf '%02X' $(seq 0 255))'), UNHEX('$(printf '%02X' $(seq 255 -1 0))')),
    (2, 'ü', 'é,ß', DEFAULT, '::1', 'ffffffff-0000-5c27-0000-000000000000',
     UNHEX('5C27225C5C001A0D0A'), '\\\\''\\\\');
SQL
}

# a table in character sets other than UTF-8 (docs/SOURCES.md "Character set"): SJIS and Big5
# characters whose second byte is 0x5C (a backslash), latin1 text and an ENUM of non-ASCII
# values
my_load_encodings() {
    my_sql "$1" <<'SQL' || { echo "my_load_encodings: failed" >&2; return 1; }
CREATE TABLE encodings (
    id INT PRIMARY KEY,
    sjis VARCHAR(20) CHARACTER SET sjis,
    big5 VARCHAR(20) CHARACTER SET big5,
    latin TEXT CHARACTER SET latin1 DEFAULT 'défaut',
    mood ENUM('café', 'naïve', 'über') CHARACTER SET latin1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO encodings VALUES
    (1, '表ソ能', '許功蓋', 'crème brûlée \\ ''x''', 'café'),
    (2, 'ソ''表', '許\\', DEFAULT, 'über');
SQL
}

my_schema() {
    mariadb-dump --no-defaults -S "$MY_SOCK" -uroot --default-character-set=utf8mb4 \
        --no-data --routines --triggers --events --skip-dump-date "$1" |
        grep -Ev "^-- (Host: .*Database: |Dumping .* for database ')"
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

# my_marker K: a row (v = K, note 'marker') inserted into shop.t, committed alone in its second,
# 0.2 s into it; that second in at[K] (the caller declares `declare -A at`): a moment at[K] + 1
# lies between marker K and what follows it (binlog replay tests)
my_marker() {
    local now
    now=$(date +%s.%N)
    sleep "$(awk -v n="$now" 'BEGIN { printf "%.3f", 1.2 - (n - int(n)) }')"
    my_sql shop -e "INSERT INTO t (v, note) VALUES ($1, 'marker')"
    at[$1]=$(date +%s)
}
# my_rows_before K: the count and sum of v of shop.t's rows committed before marker K
my_rows_before() { my_sql -N -e "SELECT COUNT(*), COALESCE(SUM(v),0) FROM shop.t WHERE id < (SELECT id FROM shop.t WHERE v = $1)"; }

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

# app_four DIR: one small application on the servers started last: PostgreSQL database app
# (orders, 700 rows; empty_one, none), MariaDB database shop (items, 300 rows), 40 Redis keys
# and the volume $T/media (2 files, 70004 bytes); DIR/coffer.conf with [source media], [source
# pg], [source my], [source cache] and [job app] of the four, repository initialised.
app_four() {
    local d=$1 i
    pg_sql -c "CREATE DATABASE app" >/dev/null || return 1
    pg_sql -d app -c "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT i, md5(i::text) FROM generate_series(1, 700) i; CREATE TABLE empty_one (x int)" >/dev/null || return 1
    my_sql -e "CREATE DATABASE shop" || return 1
    my_sql shop -e "CREATE TABLE items (id int PRIMARY KEY, v text) ENGINE=InnoDB; INSERT INTO items SELECT seq, MD5(seq) FROM seq_1_to_300" || return 1
    for i in $(seq 1 40); do echo "SET k:$i v$i"; done | rcli >/dev/null
    mkdir -p "$T/media/d"
    echo one >"$T/media/a"
    head -c 70000 /dev/urandom >"$T/media/d/b"
    PG_DATABASES=app MY_DATABASES=shop db_conf "$d" || return 1
    sed -i "s|^path = $T\$|path = $T/media|" "$d/coffer.conf"
    printf '\n[job app]\nsources = media, pg, my, cache\n' >>"$d/coffer.conf"
}
