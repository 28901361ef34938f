#!/usr/bin/env bash
# restore_job.sh - `restore --job`: a job of a volume, a PostgreSQL database, a MariaDB
# database and a Redis instance restored at one moment, each into the destination a
# [restore-profile] or --map gives; the plan shows each backup and the spread of their times
# (with a warning over --max-spread); a source without a destination, an unknown --map source
# or an occupied destination refuses the whole before anything changes; one source failing
# during the restore leaves the others restored and the summary and exit code (3) say which.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
. "$here/lib/dbdata.sh"

start_redis scratch || exit 1
SCRATCH=$REDIS_SOCK
start_redis || exit 1
start_postgres || exit 1
start_mariadb || exit 1

app_four "$T/c" || exit 1
conf="$T/c/coffer.conf"
cat >>"$conf" <<CONF

[restore-profile staging]
media.to = $T/r/media
pg.into-db = app_r
my.into-db = shop_r
cache.into-redis = $SCRATCH
CONF
C="--config $conf"

# the volume backed up 2 hours before the databases: the set's spread
ok "volume backup 2 hours earlier" fake_clock -2h backupd $C run nightly
ok "postgres backup" backupd $C run pg
ok "mariadb backup" backupd $C run my
ok "redis backup" backupd $C run cache

# --- refused before anything starts ---
fails "a source without a destination is refused, naming each" 2 "no destination for pg, my, cache of job app" \
    restore $C --job app --at now --map media="$T/r/media"
check "nothing restored after the refusal" test ! -e "$T/r/media"
check "the refusal prints no plan" test ! -s "$_out"
fails "--map of a source outside the job" 2 "--map 'nope=x': 'nope' is not a source of job app" \
    restore $C --job app --at now --profile staging --map nope=x
fails "an unknown profile" 2 "no [restore-profile prod]" restore $C --job app --at now --profile prod
fails "--job with --into-db" 2 "not --to, --to-file, --into-db" restore $C --job app --at now --profile staging --into-db x
fails "--map without --job" 2 "--map, --profile and --max-spread go with --job" restore $C --source pg --at now --map pg=x
cp "$conf" "$T/bad.conf"
printf '\n[restore-profile broken]\npg.into = x\n' >>"$T/bad.conf"
fails "a profile key that is no destination key names file and line" 2 "[restore-profile broken] 'pg.into' is not SOURCE.KEY" \
    restore --config "$T/bad.conf" --job app --at now --profile broken
check "the error names file and line" grep -Eq "bad.conf:[0-9]+: \[restore-profile broken\]" "$_err"
cp "$conf" "$T/bad2.conf"
printf '\n[restore-profile broken]\nweb.to = /x\n' >>"$T/bad2.conf"
fails "a profile key for a source the file lacks" 2 "web.to: no [source web] in this file" \
    restore --config "$T/bad2.conf" --job app --at now --profile broken

# --- the plan ---
ok "--dry-run prints the plan of all four" restore $C --job app --at now --profile staging --dry-run
check "the plan names every source and its backup" bash -c "grep -c '^  backup ' '$_out' | grep -qx 4 && grep -q 'source   media (volume)' '$_out' && grep -q 'source   cache (redis)' '$_out'"
check "the plan shows the spread, from the volume to the newest" grep -Eq '^spread     (1h 5[0-9]|2h [0-9])min between the oldest backup \(media, ' "$_out"
check "the spread over 1h is warned about" grep -q '^WARNING    the spread .* is over --max-spread 60min' "$_out"
check "--dry-run changed nothing" bash -c "test ! -e '$T/r/media' && test -z \"\$(pg_sql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'app_r'\")\""
ok "--max-spread 3h: no warning" restore $C --job app --at now --profile staging --dry-run --max-spread 3h
check "no warning under --max-spread" bash -c "! grep -q WARNING '$_out'"
fails "a bad --max-spread" 2 "--max-spread: 'soon' is not a duration" restore $C --job app --at now --profile staging --max-spread soon

# --- the restore: all four ---
ok "restore --job with the profile restores all four" restore $C --job app --at now --profile staging --map my=shop_m
check "the summary says 4 of 4" grep -q 'restore summary for job app: 4 of 4 sources restored' "$_out"
check "progress per source" bash -c "grep -c '^restoring \[[1-4]/4\] ' '$_out' | grep -qx 4"
check "volume: the files came back" diff -r "$T/media" "$T/r/media"
check "postgres: the rows came back" test "$(pg_sql -d app_r -tAc 'SELECT count(*) FROM orders')" = 700
check "mariadb: --map over the profile" test "$(my_sql -N -B -e 'SELECT count(*) FROM shop_m.items')" = 300
check "mariadb: the profile's database untouched" test -z "$(my_sql -N -B -e "SHOW DATABASES LIKE 'shop_r'")"
check "redis: the keys came back" test "$(redis-cli -s "$SCRATCH" DBSIZE)" = 40

# --- an occupied destination refuses the whole ---
fails "an occupied destination refuses the whole, naming the source" 1 "source pg:" \
    restore $C --job app --at now --profile staging --map my=shop_m2 --map cache.to-file="$T/r/c.rdb" --map media.to="$T/r/m2"
check "the refusal says nothing was restored" grep -q "cannot be restored as asked: nothing restored" "$_err"
check "the other sources were not started" bash -c "test ! -e '$T/r/m2' && test ! -e '$T/r/c.rdb' && test -z \"\$(my_sql -N -B -e \"SHOW DATABASES LIKE 'shop_m2'\")\""

# --- one source failing during the restore: the others come back, exit 3 ---
obj="backups/cache/$(repo_backups "$T/c" cache)/data/00000000"
size=$(stat -c %s "$T/c/repo/$obj")
printf '\xff' | dd of="$T/c/repo/$obj" bs=1 seek=$((size / 2)) conv=notrunc status=none
fails "a damaged redis backup fails that source only (exit 3)" 3 "source cache:" \
    restore $C --job app --at now --map media="$T/r/m3" --map pg=app_r3 --map my=shop_r3 --map cache.to-file="$T/r/c3.rdb"
check "the summary names the failed source" grep -q '^  FAILED    cache from ' "$_out"
check "the summary says 3 of 4" grep -q 'restore summary for job app: 3 of 4 sources restored' "$_out"
check "the other sources were restored: the volume" diff -r "$T/media" "$T/r/m3"
check "the other sources were restored: postgres" test "$(pg_sql -d app_r3 -tAc 'SELECT count(*) FROM orders')" = 700
check "the failed source left no file" test ! -e "$T/r/c3.rdb"
