#!/usr/bin/env bash
# catalog_logs.sh - the WAL archive of a real PostgreSQL 15 in the catalog: `catalog logs`
# shows the archived segments as a range per timeline, `catalog status` the last segment, its
# age and OK/VIOLATED against rpo (the newer of the newest backup and the last segment), a
# missing segment between two archived ones as a gap (exit 1, naming it) in both, `catalog
# verify --logs` every object checked without writing anything, naming a damaged one, the
# index learning only new files on a refresh, the JSON fields of docs/CATALOG.md, and the
# archive metrics of docs/METRICS.md. (The prune of a WAL archive:
# tests/unit/test_cat_logprune.c, against physical manifests.)
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"

c="$T/c"
conf="$c/coffer.conf"
repo="$c/repo"

# archive_command as docs/PITR.md sets it up (see pg_wal.sh): the server runs it as postgres
PG_CONF_EXTRA="archive_mode = on
archive_command = '$COFFER_BIN/backupd --config $conf wal-push pg %p'"
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
rpo = 1h
CONF
ok "repository created" backupd --config "$conf" init
pg_archive_access "$c"

# --- real WAL: five segments switched by the server ---
pg_sql -c "CREATE TABLE t (i int, pad text)"
for i in 1 2 3 4 5; do
    pg_sql -c "INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g" \
        -c "SELECT pg_switch_wal()" >/dev/null
done
archived() { pg_sql -tAc "SELECT archived_count FROM pg_stat_archiver"; }
for ((n = 0; n < 300; n++)); do
    [ "$(archived)" -ge 5 ] && break
    sleep 0.1
done
check "the server archived 5 segments through wal-push" test "$(archived)" -ge 5
seg_dir="$repo/logs/pg/00000001"
segs=$(cd "$seg_dir" && ls | grep -E '^[0-9A-F]{24}$' | sort)
first=$(head -n 1 <<<"$segs")
last=$(tail -n 1 <<<"$segs")
nseg=$(wc -l <<<"$segs")

ok "catalog logs pg" catalog --config "$conf" logs pg
check "... one range on timeline 1, first to last" \
    grep -qE "^00000001 +$first +$last +$nseg\$" "$_out"
check "... the last segment and when it was pushed" grep -q "pg archive: last $last pushed" "$_out"
ok "catalog status: OK (no backup yet, but the archive is within the rpo)" \
    catalog --config "$conf" status --source pg --json
check "... archive.last is the newest segment" \
    test "$(jq -r '.sources[0].archive.last' "$_out")" = "$last"
check "... its age, seconds" test "$(jq -r '.sources[0].archive.age_seconds' "$_out")" -lt 600
check "... no gap, state OK" test "$(jq -r '.sources[0].archive.gaps | length' "$_out"),$(jq -r '.sources[0].state' "$_out")" = 0,OK
check "... the index holds one row per archived file" \
    test "$(sqlite3 "$c/catalog.db" "SELECT count(*) FROM logs WHERE source = 'pg'")" -eq "$(ls "$seg_dir" | wc -l)"

# a refresh reads headers only of new files: a row's push time survives it
sqlite3 "$c/catalog.db" "UPDATE logs SET pushed = 12345 WHERE file = '$first'"
ok "a refresh with nothing new" catalog --config "$conf" logs pg
check "... leaves known rows alone" \
    test "$(sqlite3 "$c/catalog.db" "SELECT pushed FROM logs WHERE file = '$first'")" = 12345
sqlite3 "$c/catalog.db" "DELETE FROM logs WHERE file = '$first'"   # read again next time

# --- verify ---
ok "catalog verify --logs: every archived file checked" \
    catalog --config "$conf" verify --logs --source pg
check "... all of them, none damaged" \
    grep -q "$(ls "$seg_dir" | wc -l) archived log files verified, 0 damaged" "$_out"
mid=$(sed -n 3p <<<"$segs")
cp -p "$seg_dir/$mid" "$T/mid.good"
printf 'X' | dd of="$seg_dir/$mid" bs=1 seek=300 conv=notrunc status=none
fails "an altered segment: verify exit 1" 1 "" catalog --config "$conf" verify --logs --source pg
check "... naming it" grep -q "pg/logs/$mid: DAMAGED" "$_out"
check "... and writing nothing beside the archive" test -z "$(find "$T" -name '.coffer-*')"
cp -p "$T/mid.good" "$seg_dir/$mid"
ok "repaired: verify --all passes (backups and logs)" catalog --config "$conf" verify --all

# --- a gap ---
mv "$seg_dir/$mid" "$T/mid.away"
fails "a segment missing between two archived ones: catalog logs exit 1" 1 "" \
    catalog --config "$conf" logs pg
check "... naming the first missing segment" grep -q "GAP on 00000001: $mid missing" "$_out"
fails "... catalog status exit 1" 1 "" catalog --config "$conf" status --source pg
check "... state GAPS, the gap named" grep -q "pg archive: GAP on 00000001: $mid missing" "$_out"
check "... and the index forgot the file" \
    test "$(sqlite3 "$c/catalog.db" "SELECT count(*) FROM logs WHERE file = '$mid'")" -eq 0
fails "status --json: the same" 1 "" catalog --config "$conf" status --source pg --json
check "... gaps[0].first_missing" \
    test "$(jq -r '.sources[0].archive.gaps[0].first_missing' "$_out")" = "$mid"
check "... ok false" test "$(jq -r '.ok' "$_out")" = false
mv "$T/mid.away" "$seg_dir/$mid"
ok "the segment back: status OK again" catalog --config "$conf" status --source pg

# --- the RPO: the last segment's age against rpo ---
sed -i 's/^rpo = 1h$/rpo = 1s/' "$conf"
sleep 2
fails "rpo 1s, last segment older: VIOLATED, exit 1" 1 "" catalog --config "$conf" status --source pg
check "... VIOLATED" grep -qE "^pg +- .* 1s +VIOLATED" "$_out"
pg_sql -c "INSERT INTO t VALUES (0, 'x')" -c "SELECT pg_switch_wal()" >/dev/null
for ((n = 0; n < 300; n++)); do
    [ "$(archived)" -ge $((nseg + 1)) ] && break
    sleep 0.1
done
sed -i 's/^rpo = 1s$/rpo = 30s/' "$conf"
ok "a new segment archived: within rpo 30s again" catalog --config "$conf" status --source pg
check "... the new one is the last" \
    grep -q "pg archive: last $(cd "$seg_dir" && ls | grep -E '^[0-9A-F]{24}$' | sort | tail -n 1) pushed" "$_out"

# --- prune: real WAL, base backups as physical manifests (the contract of docs/PITR.md)
# written by the tests-only helper in tests/unit/test_cat_logprune.c ---
mapfile -t S < <(cd "$seg_dir" && ls | grep -E '^[0-9A-F]{24}$' | sort)
now=$(date +%s)
A=20261101T000000Z-aaaaaaaa B=20261102T000000Z-bbbbbbbb C=20261103T000000Z-cccccccc
ok "base backup A (${S[1]})" "$COFFER_UNIT/test_cat_logprune" --write-base "$conf" pg $A 1 "${S[1]}" "${S[1]}" $((now - 300))
ok "base backup B (${S[3]})" "$COFFER_UNIT/test_cat_logprune" --write-base "$conf" pg $B 1 "${S[3]}" "${S[3]}" $((now - 200))
ok "base backup C (${S[4]})" "$COFFER_UNIT/test_cat_logprune" --write-base "$conf" pg $C 1 "${S[4]}" "${S[4]}" $((now - 100))
ok "pin A" catalog --config "$conf" pin $A --reason audit
sed -i 's/^rpo = 30s$/rpo = 30s\nkeep-last = 1\nkeep-pitr = 1h/' "$conf"
ok "prune --dry-run with keep-pitr 1h" catalog --config "$conf" prune --dry-run --source pg
check "... every segment was pushed within the window: none to delete" \
    test -z "$(grep -E 'logs DELETE|archived log files to delete' "$_out")"
check "... the window explained" grep -q "keep-pitr 3600s \[source pg\]: the window from" "$_out"
check "... A, the oldest, is the window's base backup (pinned, pitr)" \
    grep -qE "^pg +$A +keep +pinned,pitr" "$_out"
sed -i '/^keep-pitr = 1h$/d' "$conf"
ok "prune --dry-run without keep-pitr" catalog --config "$conf" prune --dry-run --source pg
check "... ${S[0]} to delete" grep -q "logs DELETE ${S[0]}..${S[0]} (1 files" "$_out"
check "... A's segment kept for A" grep -q "logs keep ${S[1]}..${S[1]} (1 files, .*consistency of kept base backup $A" "$_out"
check "... ${S[2]}..${S[3]} to delete (B goes)" grep -q "logs DELETE ${S[2]}..${S[3]} (2 files" "$_out"
check "... from C on kept" grep -q "logs keep ${S[4]}..${S[4]} .*from the newest base backup $C on" "$_out"
check "... and nothing deleted yet" test "$(ls "$seg_dir" | wc -l)" -eq "${#S[@]}"
ok "prune" catalog --config "$conf" prune --source pg
check "... B deleted" grep -qE "^pg +$B +delete" "$_out"
check "... 3 archived log files deleted" grep -q "^3 archived log files deleted" "$_out"
check "... exactly ${S[0]}, ${S[2]} and ${S[3]} gone from the repository" \
    test "$(cd "$seg_dir" && ls | sort | tr '\n' ' ')" = "$(printf '%s ' "${S[1]}" "${S[@]:4}")"
ok "catalog logs: the holes prune left are no gap" catalog --config "$conf" logs pg --json
check "... two ranges, no gap, one hole" \
    test "$(jq -r '[(.archive.ranges | length), (.archive.gaps | length), .archive.holes] | join(",")' "$_out")" = 2,0,1
ok "... status OK" catalog --config "$conf" status --source pg
check "... saying so" grep -q "pg archive: 1 holes between the ranges retention keeps" "$_out"
mv "$seg_dir/${S[4]}" "$T/s4.away"
fails "C's own segment missing: the hole becomes a gap that matters" 1 "" \
    catalog --config "$conf" status --source pg
check "... named, through C's segment" grep -q "GAP on 00000001: ${S[2]} missing (3 files through ${S[4]})" "$_out"
mv "$T/s4.away" "$seg_dir/${S[4]}"
ok "prune again: nothing more" catalog --config "$conf" prune --source pg
check "... no log deleted" test -z "$(grep -E 'logs DELETE' "$_out")"
ok "restore wal-fetch of a kept segment still works" restore --config "$conf" wal-fetch pg "${S[4]}" "$T/kept"

# --- metrics: the archive's figures in the textfile of the next backupd run ---
printf '\n[metrics]\ntextfile-dir = %s\n' "$T/prom" >>"$conf"
mkdir -p "$T/prom"
ok "catalog status refreshes the index" catalog --config "$conf" status --source pg
ok "backupd run writes the metrics" backupd --config "$conf" run nightly
prom="$T/prom/coffer.prom"
check "promtool accepts them" promtool check metrics <"$prom"
check "coffer_archive_gaps{source=\"pg\"} 0" grep -qx 'coffer_archive_gaps{source="pg"} 0' "$prom"
check "coffer_archive_last_timestamp_seconds of pg: the last push" \
    test "$(sed -n 's/^coffer_archive_last_timestamp_seconds{source="pg"} //p' "$prom")" -ge "$(($(date +%s) - 600))"
check "coffer_archive_lag_seconds of pg" grep -q '^coffer_archive_lag_seconds{source="pg"} [0-9]' "$prom"
check "no archive figure for a source without one" test -z "$(grep 'archive.*source="media"' "$prom")"
