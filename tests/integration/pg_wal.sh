#!/usr/bin/env bash
# pg_wal.sh - the WAL archive against a real PostgreSQL 15: `backupd wal-push` as the server's
# archive_command (run by the server as user postgres, with the configuration, key and
# repository set up as docs/PITR.md tells operators), `restore wal-fetch` bringing every
# archived segment and backup label back byte for byte; a segment pushed twice, another
# segment under an archived name refused, a missing file, a missing segment (exit 1, silent),
# truncated, altered and swapped objects refused with nothing written, and a push killed
# mid-write leaving nothing that wal-fetch returns.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"

c="$T/c"
conf="$c/coffer.conf"
repo="$c/repo"
as_pg() { runuser -u postgres -- "$@"; }

# The server runs archive_command as user postgres: the configuration is group-readable by
# postgres, the key belongs to postgres (a key file must be 0600), the repository's root and
# repo.json are group-readable, and logs/ belongs to postgres; nothing is world-readable.
# wal_keep_size keeps the archived segments in pg_wal so the test can compare them with what
# wal-fetch returns (a checkpoint would otherwise recycle them).
PG_CONF_EXTRA="archive_mode = on
archive_command = '$COFFER_BIN/backupd --config $conf wal-push pg %p'
wal_keep_size = 1GB"
start_postgres || exit 1
mkdir -p "$T/vol" && echo data >"$T/vol/file"
make_local_conf "$c" "$T/vol"
cat >>"$conf" <<CONF

[source pg]
type = postgres
host = $PG_HOST
port = $PG_PORT
user = postgres
databases = all

[source pgcopy]
type = postgres
host = $PG_HOST
port = $PG_PORT
user = postgres
databases = all
CONF
ok "repository created" backupd --config "$conf" init
pg_archive_access "$c"
check "nothing of the configuration, key or repository is world-readable" \
    test -z "$(find "$c" -perm -o=r -o -perm -o=x)"

# --- the server archives through wal-push ---
pg_sql -c "CREATE TABLE t (i int, pad text)"
for i in 1 2 3; do
    pg_sql -c "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g" \
        -c "SELECT pg_switch_wal()" >/dev/null
done
# a backup label (.backup file): what a base backup leaves in the archive (fast checkpoint:
# a spread one takes minutes)
pg_sql -c "SET client_min_messages = warning" -c "SELECT pg_backup_start('pg_wal test', true)" \
    -c "SELECT pg_backup_stop()" >/dev/null
archived() { pg_sql -tAc "SELECT archived_count FROM pg_stat_archiver"; }
for ((n = 0; n < 100; n++)); do
    [ "$(archived)" -ge 5 ] && break
    sleep 0.1
done
check "pg_stat_archiver: at least 5 files archived" test "$(archived)" -ge 5
check "pg_stat_archiver: no failure" test "$(pg_sql -tAc "SELECT failed_count FROM pg_stat_archiver")" -eq 0
seg_dir="$repo/logs/pg/00000001"
segs=$(cd "$seg_dir" && ls | grep -E '^[0-9A-F]{24}$')
check "segments are stored under logs/pg/<timeline>/" test "$(wc -w <<<"$segs")" -ge 4
check "the backup label is stored beside them" test -n "$(cd "$seg_dir" && ls | grep -E '\.backup$')"
check "stored segments are compressed (first one below 16 MiB)" \
    test "$(stat -c %s "$seg_dir/$(head -n 1 <<<"$segs")")" -lt 16000000
mkdir -p "$T/f"
same=0 total=0
for f in $segs $(cd "$seg_dir" && ls | grep -E '\.backup$'); do
    total=$((total + 1))
    restore --config "$conf" wal-fetch pg "$f" "$T/f/$f" && cmp -s "$T/f/$f" "$PG_DATA/pg_wal/$f" &&
        same=$((same + 1))
done
check "wal-fetch returns every archived file byte for byte ($same of $total)" test "$same" -eq "$total"
first=$(head -n 1 <<<"$segs")
pgseg="$PG_DATA/pg_wal/$first"

# --- what an archive_command must get right ---
ino=$(stat -c %i:%Y "$seg_dir/$first")
ok "the same segment pushed again succeeds" as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push pg "$pgseg"
check "... and leaves the stored object as it was" test "$(stat -c %i:%Y "$seg_dir/$first")" = "$ino"
check "... saying it was already archived" grep -q "already archived" "$_err"
mkdir -p "$T/other" && chmod 755 "$T/other"
cp "$pgseg" "$T/other/$first" && chown postgres "$T/other/$first"
printf 'X' | dd of="$T/other/$first" bs=1 seek=5000 conv=notrunc status=none
cp "$seg_dir/$first" "$T/before"
fails "another segment under an archived name is refused" 1 "already archived at local $repo with different content" \
    as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push pg "$T/other/$first"
check "... the message says what to do" grep -q "HINT: two clusters may be archiving into one source" "$_err"
check "... and the archived segment is unchanged" cmp "$T/before" "$seg_dir/$first"
fails "wal-push of a missing file fails naming it" 1 "unable to open '$T/other/000000010000000000000099'" \
    as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push pg "$T/other/000000010000000000000099"
fails "wal-push of a file that is no WAL file is refused" 2 "is not the name of a WAL file" \
    as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push pg "$c/coffer.conf"
fails "wal-push for a source that is not postgres is refused" 2 "wal-push archives PostgreSQL WAL" \
    as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push media "$pgseg"
t0=$(date +%s%N)
ok "a 16 MiB segment pushed to another source" as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push pgcopy "$pgseg"
ms=$((($(date +%s%N) - t0) / 1000000))
push_ms=$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' "$_err")
# the bound leaves room for a loaded machine (the suite runs under nice): on an idle one a
# push of a real segment takes 100-300 ms
check "... in under a second ($ms ms for the process, $push_ms ms of it the push)" test "$ms" -lt 1000

# --- what a restore_command must get right ---
fails "wal-fetch of a segment never archived: exit 1" 1 "" \
    restore --config "$conf" wal-fetch pg 0000000100000000000000F0 "$T/f/missing"
check "... without a word" test ! -s "$_err" -a ! -s "$_out"
check "... and nothing written" test ! -e "$T/f/missing"
fails "wal-fetch of a history file never archived: exit 1" 1 "" \
    restore --config "$conf" wal-fetch pg 00000002.history "$T/f/00000002.history"
check "... without a word" test ! -s "$_err"

second=$(sed -n 2p <<<"$segs")
cp "$seg_dir/$first" "$T/orig"
head -c 100000 "$T/orig" >"$seg_dir/$first"
fails "a truncated object is refused, naming the file" 1 "archived '$first' of source 'pg'" \
    restore --config "$conf" wal-fetch pg "$first" "$T/f/trunc"
check "... nothing written" test ! -e "$T/f/trunc"
cp "$T/orig" "$seg_dir/$first"
printf 'X' | dd of="$seg_dir/$first" bs=1 seek=3000 conv=notrunc status=none
fails "an altered object is refused" 1 "fails authentication" \
    restore --config "$conf" wal-fetch pg "$first" "$T/f/altered"
check "... nothing written" test ! -e "$T/f/altered"
cp "$seg_dir/$second" "$seg_dir/$first"
fails "another segment's object under this name is refused" 1 "not this file" \
    restore --config "$conf" wal-fetch pg "$first" "$T/f/swapped"
check "... nothing written" test ! -e "$T/f/swapped"
cp "$T/orig" "$seg_dir/$first"
ok "the original object fetches again" restore --config "$conf" wal-fetch pg "$first" "$T/f/again"
check "... to PATH, leaving no temporary file" test -z "$(ls -A "$T/f" | grep -v -E '^[0-9A-F]{24}(\.[0-9A-F]{8}\.backup)?$|^again$')"

# --- a push killed mid-write ---
big=0000000100000000000000A0
head -c 64M /dev/urandom >"$T/other/$big" && chown postgres "$T/other/$big"
as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push pg "$T/other/$big" 2>/dev/null &
pusher=$!
for ((n = 0; n < 2000; n++)); do
    [ -n "$(find "$seg_dir" -name "$big.tmp-*" -size +1M 2>/dev/null)" ] && break
    sleep 0.005
done
kill -KILL "$pusher" 2>/dev/null
wait "$pusher" 2>/dev/null
check "the push was killed while its temporary object was being written" \
    test -n "$(find "$seg_dir" -name "$big.tmp-*")"
fails "wal-fetch does not return what a killed push left" 1 "" \
    restore --config "$conf" wal-fetch pg "$big" "$T/f/killed"
check "... (exit 1, silent, nothing written)" test ! -s "$_err" -a ! -e "$T/f/killed"
ok "a new push of the same file succeeds" as_pg "$COFFER_BIN/backupd" --config "$conf" wal-push pg "$T/other/$big"
ok "... and fetches" restore --config "$conf" wal-fetch pg "$big" "$T/f/killed"
check "... byte for byte" cmp "$T/f/killed" "$T/other/$big"
rm -f "$T/other/$big" "$T/f/killed"

# --- a repository sealed to a public key: the host that archives cannot read the archive ---
pc="$T/pub"
mkdir -p "$pc" && chgrp postgres "$pc" && chmod 0750 "$pc"
ok "key pair" backupd keygen --public "$pc/k.pub" --secret "$pc/k.sec"
chgrp postgres "$pc/k.pub" && chmod 0640 "$pc/k.pub"
printf '[repository]\npath = %s\npublic-key-file = %s\n\n[source pg]\ntype = postgres\n' \
    "$pc/repo" "$pc/k.pub" >"$pc/coffer.conf"
chgrp postgres "$pc/coffer.conf" && chmod 0640 "$pc/coffer.conf"
ok "public-key repository created" backupd --config "$pc/coffer.conf" init
chgrp postgres "$pc/repo" "$pc/repo/repo.json" && chmod 0750 "$pc/repo" && chmod 0640 "$pc/repo/repo.json"
install -d -o postgres -g postgres -m 0700 "$pc/repo/logs"
ok "public key: wal-push as postgres" as_pg "$COFFER_BIN/backupd" --config "$pc/coffer.conf" wal-push pg "$pgseg"
ok "public key: the same segment again succeeds (the header compared without the secret key)" \
    as_pg "$COFFER_BIN/backupd" --config "$pc/coffer.conf" wal-push pg "$pgseg"
fails "public key: another segment under the name is refused" 1 "with different content" \
    as_pg "$COFFER_BIN/backupd" --config "$pc/coffer.conf" wal-push pg "$T/other/$first"
fails "public key: wal-fetch without the secret key is a key error" 2 "needs --secret-key-file" \
    restore --config "$pc/coffer.conf" wal-fetch pg "$first" "$T/f/pub"
ok "public key: wal-fetch with the secret key" \
    restore --config "$pc/coffer.conf" --secret-key-file "$pc/k.sec" wal-fetch pg "$first" "$T/f/pub"
check "... byte for byte" cmp "$T/f/pub" "$pgseg"

# --- the rest of the repository is not disturbed by logs/ ---
ok "a volume backup beside the archive" backupd --config "$conf" run nightly
ok "catalog verify passes over logs/" catalog --config "$conf" verify --all
ok "catalog prune passes over logs/" catalog --config "$conf" prune
check "... and leaves the archive alone" test -e "$seg_dir/$first"
check "pg_stat_archiver: still no failure" test "$(pg_sql -tAc "SELECT failed_count FROM pg_stat_archiver")" -eq 0
