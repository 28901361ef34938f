#!/usr/bin/env bash
# wal_archive.sh - the WAL archive on each target, without a server (tests/integration/pg_wal.sh
# runs it under a real PostgreSQL): a segment of 16 MiB that goes up in several parts on S3
# round-trips; pushed again it succeeds without a write, other bytes under its name are
# refused, two pushes of the same segment at once both succeed, two different ones at once
# (within one part on S3) leave one of them whole; damaged objects are refused by wal-fetch
# with nothing written; a push killed mid-upload leaves nothing listed and nothing wal-fetch
# returns.
# coffer-targets: local s3
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"

c="$T/c"
mkdir -p "$T/vol" "$T/w" "$T/x" "$T/f"
make_conf "$c" "$T/vol"
conf="$c/coffer.conf"
printf '\n[source pg]\ntype = postgres\n' >>"$conf"
ok "repository created" backupd --config "$conf" init
seg=000000010000000000000007
key=logs/pg/00000001/$seg
{ head -c 9M /dev/urandom; head -c 7M /dev/zero; } >"$T/w/$seg"

ok "wal-push of a 16 MiB segment" backupd --config "$conf" wal-push pg "$T/w/$seg"
check "stored under logs/pg/<timeline>/, alone" test "$(repo_keys "$c" logs/)" = "$key"
ok "wal-fetch" restore --config "$conf" wal-fetch pg "$seg" "$T/f/$seg"
check "... byte for byte" cmp "$T/f/$seg" "$T/w/$seg"
repo_get "$c" "$key" "$T/stored"
ok "pushed again: success" backupd --config "$conf" wal-push pg "$T/w/$seg"
check "... saying so" grep -q "already archived" "$_err"
cp "$T/w/$seg" "$T/x/$seg"
printf 'X' | dd of="$T/x/$seg" bs=1 seek=12000000 conv=notrunc status=none
fails "other bytes under the name are refused" 1 "with different content" \
    backupd --config "$conf" wal-push pg "$T/x/$seg"
repo_get "$c" "$key" "$T/stored2"
check "... and the stored object is unchanged" cmp "$T/stored" "$T/stored2"

# --- at the same time ---
seg2=000000010000000000000008
{ head -c 6M /dev/urandom; head -c 10M /dev/zero; } >"$T/w/$seg2"
backupd --config "$conf" wal-push pg "$T/w/$seg2" 2>"$T/p1.err" & p1=$!
backupd --config "$conf" wal-push pg "$T/w/$seg2" 2>"$T/p2.err" & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "two pushes of one segment at once both succeed ($r1, $r2)" test "$r1$r2" = 00
ok "... and it fetches" restore --config "$conf" wal-fetch pg "$seg2" "$T/f/$seg2"
check "... byte for byte" cmp "$T/f/$seg2" "$T/w/$seg2"
# below part-size, so one PUT with If-None-Match on S3: above it, a multipart upload checks
# with a HEAD before completing, and two pushes at the same moment can both win (FORMAT.md)
seg3=000000010000000000000009
head -c 3M /dev/urandom >"$T/w/$seg3"
head -c 3M /dev/urandom >"$T/x/$seg3"
backupd --config "$conf" wal-push pg "$T/w/$seg3" 2>"$T/p1.err" & p1=$!
backupd --config "$conf" wal-push pg "$T/x/$seg3" 2>"$T/p2.err" & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "two different segments under one name at once: one wins ($r1, $r2)" \
    test "$(((r1 == 0) + (r2 == 0)))" -eq 1
check "... the other is refused as different content" grep -q "with different content" "$T/p1.err" "$T/p2.err"
ok "... the stored one fetches" restore --config "$conf" wal-fetch pg "$seg3" "$T/f/$seg3"
check "... whole: one of the two, byte for byte" \
    bash -c "cmp -s '$T/f/$seg3' '$T/w/$seg3' || cmp -s '$T/f/$seg3' '$T/x/$seg3'"

# --- damage ---
head -c 5000000 "$T/stored" >"$T/trunc"
repo_put "$c" "$key" "$T/trunc"
fails "a truncated object is refused, naming the file" 1 "archived '$seg' of source 'pg'" \
    restore --config "$conf" wal-fetch pg "$seg" "$T/f/bad"
check "... nothing written" test ! -e "$T/f/bad"
cp "$T/stored" "$T/alt"
printf 'X' | dd of="$T/alt" bs=1 seek=2000000 conv=notrunc status=none
repo_put "$c" "$key" "$T/alt"
fails "an altered object is refused" 1 "fails authentication" \
    restore --config "$conf" wal-fetch pg "$seg" "$T/f/bad"
check "... nothing written" test ! -e "$T/f/bad"
repo_put "$c" "$key" "$T/stored"
fails "a segment never archived: exit 1" 1 "" restore --config "$conf" wal-fetch pg 00000001000000000000000A "$T/f/none"
check "... silent" test ! -s "$_err" -a ! -e "$T/f/none"

# --- killed mid-upload ---
# a file above the one-read limit (64 MiB) is read twice: once for its digest, then again as it
# is compressed and uploaded; the kill comes when the second pass has begun (/proc's rchar)
big=00000001000000000000000B
head -c 96M /dev/urandom >"$T/w/$big"
backupd --config "$conf" wal-push pg "$T/w/$big" 2>/dev/null & pusher=$!
for _ in $(seq 1000); do
    rchar=$(awk '/^rchar/ {print $2}' "/proc/$pusher/io" 2>/dev/null || echo 0)
    [ "${rchar:-0}" -gt $(((96 + 8) * 1048576)) ] && break
    kill -0 $pusher 2>/dev/null || break
    sleep 0.01
done
kill -KILL $pusher 2>/dev/null
wait $pusher 2>/dev/null
check "the push was killed in its upload pass" test $? -eq 137
check "a push killed mid-upload leaves nothing listed" test -z "$(repo_keys "$c" "logs/pg/00000001/$big")"
fails "... nor anything wal-fetch returns" 1 "" restore --config "$conf" wal-fetch pg "$big" "$T/f/$big"
check "... (silent, nothing written)" test ! -s "$_err" -a ! -e "$T/f/$big"
ok "the segment pushed again after the kill" backupd --config "$conf" wal-push pg "$T/w/$big"
ok "... fetches" restore --config "$conf" wal-fetch pg "$big" "$T/f/$big"
check "... byte for byte" cmp "$T/f/$big" "$T/w/$big"
