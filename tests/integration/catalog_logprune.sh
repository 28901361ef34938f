#!/usr/bin/env bash
# catalog_logprune.sh - the log archive in the catalog on each target, without a server
# (catalog_logs.sh runs it under a real PostgreSQL, local only): files pushed with wal-push,
# a damaged and a missing object found by `catalog verify --logs` and `catalog logs`, base
# backups as physical manifests (the tests-only writer of tests/unit/test_cat_logprune.c),
# and `catalog prune` removing exactly the WAL no kept base backup needs (S3: DeleteObjects),
# leaving holes that are no gap.
# coffer-targets: local s3
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"

c="$T/c"
conf="$c/coffer.conf"
mkdir -p "$T/vol" "$T/w"
make_conf "$c" "$T/vol"
printf '\n[source pg]\ntype = postgres\nkeep-last = 1\n' >>"$conf"
ok "repository created" backupd --config "$conf" init
S=()
for q in 1 2 3 4 5 6 7 8; do
    S+=("00000001000000000000000$q")
    head -c 100000 /dev/urandom >"$T/w/${S[-1]}"
    backupd --config "$conf" wal-push pg "$T/w/${S[-1]}" || echo "not ok - wal-push ${S[-1]}"
done
ok "catalog logs: one range of 8" catalog --config "$conf" logs pg
check "... ${S[0]} to ${S[7]}" grep -qE "^00000001 +${S[0]} +${S[7]} +8\$" "$_out"

# --- verify ---
k5=logs/pg/00000001/${S[4]}
repo_get "$c" "$k5" "$T/s5"
cp "$T/s5" "$T/s5.bad"
printf 'X' | dd of="$T/s5.bad" bs=1 seek=50000 conv=notrunc status=none
repo_put "$c" "$k5" "$T/s5.bad"
fails "an altered object: verify --logs exit 1" 1 "" catalog --config "$conf" verify --logs
check "... naming it" grep -q "pg/logs/${S[4]}: DAMAGED: .*fails authentication" "$_out"
repo_put "$c" "$k5" "$T/s5"
ok "repaired: verify --logs passes" catalog --config "$conf" verify --logs --source pg
check "... 8 checked" grep -q "8 archived log files verified, 0 damaged" "$_out"
repo_rm "$c" "$k5"
fails "a missing object between two others: catalog logs exit 1" 1 "" catalog --config "$conf" logs pg
check "... the gap named" grep -q "GAP on 00000001: ${S[4]} missing (1 files" "$_out"
repo_put "$c" "$k5" "$T/s5"

# --- prune: A (2) pinned, B (4), C (6, the newest); keep-last 1 ---
now=$(date +%s)
A=20261101T000000Z-aaaaaaaa B=20261102T000000Z-bbbbbbbb C=20261103T000000Z-cccccccc
for b in "$A ${S[1]} 300" "$B ${S[3]} 200" "$C ${S[5]} 100"; do
    set -- $b
    ok "base backup $1" "$COFFER_UNIT/test_cat_logprune" --write-base "$conf" pg "$1" 1 "$2" "$2" $((now - $3))
done
ok "pin A" catalog --config "$conf" pin $A
ok "prune --dry-run" catalog --config "$conf" prune --dry-run
check "... 4 files to delete" grep -q "^4 archived log files to delete" "$_out"
check "... nothing deleted" test "$(repo_keys "$c" logs/ | wc -l)" -eq 8
ok "prune" catalog --config "$conf" prune
check "... ${S[0]}, ${S[2]}, ${S[3]} and ${S[4]} gone, B with them" \
    test "$(repo_keys "$c" logs/pg/00000001/ | cut -d/ -f4 | tr '\n' ' ')/$(repo_backups "$c" pg | tr '\n' ' ')" = \
    "${S[1]} ${S[5]} ${S[6]} ${S[7]} /$A $C "
ok "catalog logs: the hole is no gap" catalog --config "$conf" logs pg
check "... counted as a hole" grep -q "1 holes between the ranges retention keeps" "$_out"
ok "verify --logs of what is left" catalog --config "$conf" verify --logs
check "... 4 checked" grep -q "4 archived log files verified, 0 damaged" "$_out"
ok "restore wal-fetch of a kept one" restore --config "$conf" wal-fetch pg "${S[6]}" "$T/f7"
check "... byte for byte" cmp "$T/f7" "$T/w/${S[6]}"
