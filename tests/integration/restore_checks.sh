#!/usr/bin/env bash
# restore_checks.sh - restore refuses a bad --at and an occupied destination before it prints
# any line of its plan, and leaves the destination as it was: a full --to DIR, an existing
# --into-db database (PostgreSQL and MariaDB, on real servers), a --into-redis server holding
# keys. The plan says when the backup chosen is not the newest and why; with every backup
# damaged, `--at latest` says so and prints no placeholder date.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

# refused WHAT CODE NEEDLE cmd...: exits CODE with NEEDLE on stderr, and not one plan line
refused() {
    local what=$1
    fails "$@"
    check "$what: no plan line printed" test ! -s "$_out"
}
# one_line WHAT: the last command's stderr is exactly one line, with no usage text
one_line() {
    check "$1: one line on stderr" test "$(wc -l <"$_err")" -eq 1
    check "$1: no usage text" bash -c "! grep -q 'usage:' '$_err'"
}

mkdir -p "$T/src/d"
echo data >"$T/src/d/f"
head -c 300000 /dev/urandom >"$T/src/big"
make_local_conf "$T/c" "$T/src"
conf="$T/c/coffer.conf"
C="--config $conf"
ok "init" backupd $C init
ok "first backup" backupd $C run nightly
b1=$(repo_backups "$T/c" media)

# --- --at: one line that lists every form; the forms operators type are accepted ---
for bad in yesterday 2026-11-21 2026-11-21T03:00 2026-02-30T00:00:00Z 2026-11-21T03:00+1:00 \
    "2026-11-21T03:00:00 Z" Latest; do
    refused "--at '$bad'" 2 "--at '$bad' is not a time: use RFC 3339 with Z or an offset" \
        restore $C --source media --at "$bad" --to "$T/r"
    one_line "--at '$bad'"
done
for form in "2026-11-21T04:00:00+01:00" "+0100" "2026-11-21T03:00Z" "'now'" "'latest'"; do
    check "the --at error lists $form" grep -qF -- "$form" "$_err"
done
fails "catalog at: the same one line" 2 "at 'yesterday' is not a time" catalog $C at yesterday
one_line "catalog at yesterday"
check "nothing was restored" test ! -e "$T/r"

soon() { date -d '+1 hour' "$@"; }   # ahead of the backup, so it is chosen
for at in "$(soon -u +%Y-%m-%dT%H:%MZ)" "$(soon +%Y-%m-%dT%H:%M%z)" \
    "$(soon +%Y-%m-%dT%H:%M:%S%z)" "$(soon +%Y-%m-%dT%H:%M%:z)" now latest; do
    ok "--at $at is accepted" restore $C --source media --at "$at" --to "$T/r" --dry-run
    check "--at $at: the plan names the backup" grep -q "^  backup   $b1, taken" "$_out"
done
check "--at latest: the newest" grep -q "ago (the newest)$" "$_out"
ok "catalog at takes +0100 too" catalog $C at "$(soon +%Y-%m-%dT%H:%M%z)" --source media
check "and finds the backup" grep -q "$b1" "$_out"

# --- --to: an occupied directory is refused before the plan, and left alone ---
mkdir -p "$T/full/sub"
echo precious >"$T/full/sub/keep"
tree_fingerprint "$T/full" >"$T/full.fp"
refused "--to a directory that is not empty" 2 "--to '$T/full' is not empty; HINT:" \
    restore $C --source media --at latest --to "$T/full"
refused "the same with --dry-run" 2 "is not empty" \
    restore $C --source media --at latest --to "$T/full" --dry-run
tree_fingerprint "$T/full" >"$T/full.fp2"
check "the full directory is unchanged" cmp "$T/full.fp" "$T/full.fp2"
check "nothing beside it" bash -c "! ls -a '$T' | grep -q -e coffer-partial -e coffer-old"
echo "i am a file" >"$T/afile"
refused "--to a file" 2 "exists and is not a directory" \
    restore $C --source media --at latest --to "$T/afile"
check "the file is unchanged" grep -qx "i am a file" "$T/afile"
ok "--force is what allows it (plan only)" restore $C --source media --at latest --to "$T/full" --force --dry-run
check "the plan says the contents are moved aside" grep -q "is not empty: its contents will be moved" "$_out"
mkdir "$T/empty"
ok "an empty directory is fine" restore $C --source media --at latest --to "$T/empty"
ok "and holds the restore" diff -r "$T/src" "$T/empty"

# --- the plan says when the backup chosen is not the newest, and why ---
sleep 1.1   # backup ids are by the second
ok "second backup" backupd $C run nightly
b2=$(repo_backups "$T/c" media | grep -v "$b1")
obj="backups/media/$b2/data/00000000"
ok "its object 0 is read" repo_get "$T/c" "$obj" "$T/obj"
printf 'X' | dd of="$T/obj" bs=1 seek=2000 conv=notrunc status=none
ok "one byte of it is altered" repo_put "$T/c" "$obj" "$T/obj"
fails "catalog verify finds it" 1 "" catalog $C verify --all
ok "restore --at latest passes over it" restore $C --source media --at latest --to "$T/r" --dry-run
check "the older backup is chosen" grep -q "^  backup   $b1, taken .* ago: NOT the newest, 1 newer backup passed over as damaged" "$_out"
check "the one passed over is named, with verify's finding" \
    grep -q "^  skipped  $b2: catalog verify found it damaged: .*object 0" "$_out"
check "the plan no longer says 'the newest'" bash -c "! grep -q 'the newest)' '$_out'"
ok "--at a time after both says the same" restore $C --source media --at "$(soon -u +%Y-%m-%dT%H:%MZ)" --to "$T/r" --dry-run
check "not the newest at or before it" grep -q "NOT the newest at or before it, 1 newer backup" "$_out"

sleep 1.1
ok "third backup" backupd $C run nightly
b3=$(repo_backups "$T/c" media | grep -v -e "$b1" -e "$b2")
echo "not a manifest" >"$T/junk"
ok "its manifest is overwritten (no verify since)" repo_put "$T/c" "backups/media/$b3/manifest" "$T/junk"
ok "restore --at latest passes over both" restore $C --source media --at latest --to "$T/r" --dry-run
check "2 newer backups passed over" grep -q "^  backup   $b1, .*NOT the newest, 2 newer backups passed over" "$_out"
check "the manifest's damage is named" grep -q "^  skipped  $b3: its manifest is missing or does not open" "$_out"
check "and the verified one" grep -q "^  skipped  $b2: catalog verify found it damaged" "$_out"
check "newest first" test "$(grep -n "skipped  $b3" "$_out" | cut -d: -f1)" -lt "$(grep -n "skipped  $b2" "$_out" | cut -d: -f1)"

# --- every backup damaged: no placeholder date ---
ok "the first backup's manifest is overwritten too" repo_put "$T/c" "backups/media/$b1/manifest" "$T/junk"
refused "--at latest with every backup damaged" 1 "source 'media' has no intact backup: all 3 backups are damaged; HINT:" \
    restore $C --source media --at latest --to "$T/r2"
check "no date in the error" bash -c "grep '^restore: error:' '$_err' | grep -vqE '[0-9]{4}-[0-9]{2}-[0-9]{2}T|at or before|9999'"
check "nothing restored" test ! -e "$T/r2"
fails "--at a time names that time" 1 "no complete backup at or before 2099-01-01T00:00:00Z" \
    restore $C --source media --at 2099-01-01T00:00Z --to "$T/r2"

# --- databases on real servers ---
start_postgres || exit 1
pg_sql -c "CREATE DATABASE app" >/dev/null
pg_sql -d app -c "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 500) i" >/dev/null
start_mariadb || exit 1
my_sql -e "CREATE DATABASE shop; CREATE TABLE shop.items (id int PRIMARY KEY, v text); INSERT INTO shop.items VALUES (1, 'one'), (2, 'two')"
start_redis scratch || exit 1
SCRATCH=$REDIS_SOCK
start_redis || exit 1
rcli SET a 1 >/dev/null && rcli HSET h f v >/dev/null
db_conf "$T/d"
dconf="--config $T/d/coffer.conf"
ok "postgres backup" backupd $dconf run pg
ok "mariadb backup" backupd $dconf run my
ok "redis backup" backupd $dconf run cache

# postgres: a database of the destination's name exists
pg_sql -c "CREATE DATABASE app_copy" >/dev/null
pg_sql -d app_copy -c "CREATE TABLE other (x int); INSERT INTO other VALUES (42)" >/dev/null
pg_fingerprint app_copy >"$T/pg.fp"
pg_sql -tAc "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database" >"$T/pg.dbs"
refused "postgres: --into-db an existing database" 1 "database 'app_copy' exists on postgres at" \
    restore $dconf --source pg --at latest --database app --into-db app_copy
refused "postgres: --into-db the source's own database" 1 "database 'app' exists on postgres at" \
    restore $dconf --source pg --at latest --database app --into-db app
refused "postgres: --clean without --force" 2 "HINT: add --force" \
    restore $dconf --source pg --at latest --database app --into-db app_copy --clean
pg_fingerprint app_copy >"$T/pg.fp2"
check "postgres: the existing database is unchanged" cmp "$T/pg.fp" "$T/pg.fp2"
check "postgres: no database created or dropped" test "$(pg_sql -tAc "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database")" = "$(cat "$T/pg.dbs")"
ok "postgres: a new name plans" restore $dconf --source pg --at latest --database app --into-db app_new --dry-run
check "postgres: the plan ends with the destination" grep -q "^  database app -> app_new at .*(created[;)]" "$_out"

# mariadb: a database holding tables
my_sql -e "CREATE DATABASE shop_copy; CREATE TABLE shop_copy.other (x int); INSERT INTO shop_copy.other VALUES (42)"
my_fingerprint shop_copy >"$T/my.fp"
refused "mariadb: --into-db a database holding tables" 1 "database 'shop_copy' on mariadb at" \
    restore $dconf --source my --at latest --database shop --into-db shop_copy
refused "mariadb: --into-db the source's own database" 1 "database 'shop' on mariadb at" \
    restore $dconf --source my --at latest --database shop
my_fingerprint shop_copy >"$T/my.fp2"
check "mariadb: the existing database is unchanged" cmp "$T/my.fp" "$T/my.fp2"
check "mariadb: no database created" test -z "$(my_sql -N -e "SHOW DATABASES LIKE 'shop\\_new'")"
ok "mariadb: a new name plans" restore $dconf --source my --at latest --database shop --into-db shop_new --dry-run
check "mariadb: the plan names it" grep -q "^  database shop -> shop_new at .*(created[;)]" "$_out"

# redis: a scratch server that holds keys
redis-cli -s "$SCRATCH" SET mine keep >/dev/null
REDIS_SOCK=$SCRATCH redis_fingerprint >"$T/redis.fp"
refused "redis: --into-redis a server holding keys" 1 "holds 1 keys: --into-redis loads into an empty scratch server" \
    restore $dconf --source cache --at latest --into-redis "$SCRATCH"
REDIS_SOCK=$SCRATCH redis_fingerprint >"$T/redis.fp2"
check "redis: the scratch server is unchanged" cmp "$T/redis.fp" "$T/redis.fp2"
redis-cli -s "$SCRATCH" FLUSHALL >/dev/null
ok "redis: an empty one is fine" restore $dconf --source cache --at latest --into-redis "$SCRATCH"
check "redis: holding the keys" test "$(redis-cli -s "$SCRATCH" GET a)" = 1
