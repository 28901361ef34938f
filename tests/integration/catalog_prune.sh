#!/usr/bin/env bash
# catalog_prune.sh - retention applied by `catalog prune` on a real local repository: dry run,
# reasons, pins, damaged backups never deleted, source rules over job rules, debris and its
# grace period, repository locks (live, stale, per source), a prune killed with SIGKILL, and
# `catalog verify` / `catalog status` (RPO, last verify, lock holders).
. "$COFFER_TESTS/lib/testlib.sh"
. "$COFFER_TESTS/lib/catalog_helpers.sh"


# conf DIR [source extra] [job extra]
conf() {
    local d=$1
    mkdir -p "$d/src" && echo data >"$d/src/f"
    head -c 32 /dev/urandom >"$d/repo.key" && chmod 600 "$d/repo.key"
    cat >"$d/coffer.conf" <<EOF
[repository]
target = local
path = $d/repo
key-file = $d/repo.key

[catalog]
path = $d/catalog.db

[source media]
type = volume
path = $d/src
$2

[job nightly]
sources = media
$3
EOF
    backupd --config "$d/coffer.conf" init >/dev/null 2>&1
}
ids() { ls "$1/repo/backups/media"; }
host=$(hostname)

# --- retention with reasons, pins, damage, dry run ---
D=$T/a
conf "$D" "rpo = 26h" "keep-daily = 2"
C=$D/coffer.conf
for t in "2026-11-01 03:00:00" "2026-11-01 15:00:00" "2026-11-02 03:00:00" \
         "2026-11-02 15:00:00" "2026-11-03 03:00:00"; do
    ok "backup $t" bk "$D/coffer.conf" "$t"
done
I=($(ids "$D"))
check "five backups" test "${#I[@]}" -eq 5
run "pin the oldest" catalog --config "$C" pin "${I[0]}" --reason "legal hold"
# the third (2026-11-02 03:00) would be deleted; its manifest is damaged: it must stay
printf '\xff\xff\xff\xff' | dd of="$D/repo/backups/media/${I[2]}/manifest" bs=1 seek=60 \
    conv=notrunc status=none
rm -f "$D/catalog.db"

run "prune --dry-run" catalog --config "$C" prune --dry-run
check "dry run deletes nothing" test "$(ids "$D" | wc -l)" -eq 5
check "names the rules it applies" grep -q "^# media: \[job nightly\] keep-daily 2 (UTC)" "$T/o"
check "dry run says what it would delete" grep -q "${I[1]}  *delete  *no rule keeps it" "$T/o"
check "summary" grep -q "4 kept, 1 to delete" "$T/o"
check "pinned kept" grep -q "${I[0]}  *keep  *pinned" "$T/o"
check "damaged kept" grep -q "${I[2]}  *keep  *damaged" "$T/o"
check "daily kept" grep -q "${I[3]}  *keep  *daily" "$T/o"
check "newest kept" grep -q "${I[4]}  *keep  *newest,daily" "$T/o"
run "prune --dry-run --json" catalog --config "$C" prune --dry-run --json
check "json actions" test "$(jq_ "$T/o" "sorted((b['id'][-8:], b['action'], tuple(b['reasons'])) for b in d['backups'])==sorted([('${I[0]: -8}','keep',('pinned',)),('${I[1]: -8}','delete',()),('${I[2]: -8}','keep',('damaged',)),('${I[3]: -8}','keep',('daily',)),('${I[4]: -8}','keep',('newest','daily'))])")" = True

run "prune" catalog --config "$C" prune
check "one deleted" grep -q "4 kept, 1 deleted" "$T/o"
check "its objects are gone" test ! -e "$D/repo/backups/media/${I[1]}"
check "the rest is there" test "$(ids "$D" | wc -l)" -eq 4
check "index marks it pruned" test "$(sqlite3 "$D/catalog.db" "select status from backups where id = '${I[1]}'")" = 2
check "lock released" test -z "$(ls "$D/repo/locks" 2>/dev/null)"
run "prune again deletes nothing" catalog --config "$C" prune
check "idempotent" grep -q "0 deleted" "$T/o"
run "unpin" catalog --config "$C" unpin "${I[0]}"
run "prune after unpin" catalog --config "$C" prune
check "unpinned one deleted" test ! -e "$D/repo/backups/media/${I[0]}"
check "damaged one still there" test -e "$D/repo/backups/media/${I[2]}/manifest"

# --- a source's rules win over its job's ---
D2=$T/b
conf "$D2" "keep-last = 3" "keep-last = 1"
for h in 01 02 03 04; do ok "b backup $h" bk "$D2/coffer.conf" "2026-11-05 $h:00:00"; done
run "prune with source rules" catalog --config "$D2/coffer.conf" prune
check "source keep-last=3 applied, not the job's 1" test "$(ids "$D2" | wc -l)" -eq 3
# an empty policy keeps everything
D3=$T/c
conf "$D3" "" ""
for h in 01 02 03; do ok "c backup $h" bk "$D3/coffer.conf" "2026-11-05 $h:00:00"; done
run "prune without rules" catalog --config "$D3/coffer.conf" prune
check "nothing deleted" test "$(ids "$D3" | wc -l)" -eq 3
check "reason no-policy" grep -q "no-policy" "$T/o"
# a bad timezone is a configuration error with its line
D4=$T/d
conf "$D4" "" "keep-daily = 1
timezone = Mars/Olympus"
runf "bad timezone" 2 "unknown timezone 'Mars/Olympus'" catalog --config "$D4/coffer.conf" prune
check "names file and line" grep -q "coffer.conf:[0-9]*: \[job nightly\] timezone" "$T/e"
runf "check-config catches it too" 2 "[job nightly] timezone: unknown timezone" backupd --config "$D4/coffer.conf" check-config

# --- debris: uncommitted backups, old ones swept, young ones left alone ---
old=20261101T000000Z-deadbeef
young=$(date -u +%Y%m%dT%H%M%SZ)-cafef00d
mkdir -p "$D/repo/backups/media/$old/data" "$D/repo/backups/media/$young/data"
echo junk >"$D/repo/backups/media/$old/data/00000000"
echo junk >"$D/repo/backups/media/$old/data/00000001"
echo junk >"$D/repo/backups/media/$young/data/00000000"
run "prune --dry-run with debris" catalog --config "$C" prune --dry-run
check "would sweep the old one" grep -q "$old  *sweep  *uncommitted since 2026-11-01T00:00:00Z, 2 objects" "$T/o"
check "leaves the young one" grep -q "$young  *leave .*grace period" "$T/o"
check "dry run swept nothing" test -e "$D/repo/backups/media/$old/data/00000000"
run "prune with debris" catalog --config "$C" prune
check "old debris swept" test ! -e "$D/repo/backups/media/$old"
check "young debris left" test -e "$D/repo/backups/media/$young/data/00000000"
check "debris never listed" bash -c "! catalog --config $C list | grep -q cafef00d"
rm -rf "$D/repo/backups/media/$young"

# --- repository locks ---
plant() {  # plant NAME HOST PID EXPIRES-RFC3339
    mkdir -p "$D/repo/locks"
    printf '{"format":1,"name":"%s","purpose":"prune","host":"%s","pid":%s,"token":"0000","created":"2026-11-01T00:00:00Z","renewed":"2026-11-01T00:00:00Z","expires":"%s"}' \
        "$1" "$2" "$3" "$4" >"$D/repo/locks/$1"
}
future=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
plant prune other.example 4242 "$future"
runf "prune refused by a live lock" 1 "held by prune on other.example pid 4242" catalog --config "$C" prune
check "with a hint" grep -q "HINT:" "$T/e"
runf "status shows the holder (and fails on the rpo)" 1 "" catalog --config "$C" status
check "lock holder listed" grep -q "prune .*other.example pid 4242 .*until $future" "$T/o"
sleep 0.01 & dead=$!; wait $dead
plant prune "$host" "$dead" "$future"
run "prune takes over a dead process's lock" catalog --config "$C" prune
check "with a warning" grep -q "taking over stale lock locks/prune" "$T/e"
plant prune other.example 4242 "2026-11-01T01:00:00Z"
run "prune takes over an expired lock" catalog --config "$C" prune
check "expired warning" grep -q "(expired)" "$T/e"
plant source-media other.example 4242 "$future"
runf "a source locked by a backup is skipped" 3 "source 'media' skipped" catalog --config "$C" prune
check "and said so" grep -q "1 sources skipped" "$T/o"
rm -f "$D/repo/locks/source-media"

# --- verify ---
I=($(ids "$D"))
run "verify --all" catalog --config "$C" verify --source media --latest
check "latest verified" grep -q "1 backups verified, 0 damaged" "$T/o"
newest=${I[-1]}
run "verify --quick of the newest" catalog --config "$C" verify "$newest" --quick
check "quick says so" grep -q "$newest: ok (quick)" "$T/o"
runf "verify --all finds the damaged manifest" 1 "" catalog --config "$C" verify --all
check "damaged reported" grep -q "${I[0]}: DAMAGED" "$T/o"
obj="$D/repo/backups/media/$newest/data/00000000"
cp "$obj" "$T/obj.bak"
printf '\x00' | dd of="$obj" bs=1 seek=40 conv=notrunc status=none
run "verify --quick misses a flipped byte (sizes only)" catalog --config "$C" verify "$newest" --quick
runf "full verify finds it" 1 "" catalog --config "$C" verify "$newest"
check "DAMAGED line" grep -q "$newest: DAMAGED" "$T/o"
check "index marks it damaged" test "$(sqlite3 "$D/catalog.db" "select status from backups where id = '$newest'")" = 1
run "at now" catalog --config "$C" at now --json
check "at does not choose it" test "$(jq_ "$T/o" "d['sources'][0]['backup']['id'] != '$newest'")" = True
runf "status fails on the failed verify" 1 "" catalog --config "$C" status --json
check "status json: last verify failed" test "$(jq_ "$T/o" "(d['ok'], d['sources'][0]['last_verify']['result'])")" = "(False, 'failed')"
cp "$T/obj.bak" "$obj"
rm "$D/repo/backups/media/$newest/data/00000000"
runf "verify --quick finds a missing object" 1 "" catalog --config "$C" verify "$newest" --quick
check "missing named" grep -q "DAMAGED: object 0" "$T/o"
cp "$T/obj.bak" "$obj"
run "verify passes again once repaired" catalog --config "$C" verify "$newest"
check "status back to complete" test "$(sqlite3 "$D/catalog.db" "select status from backups where id = '$newest'")" = 0

# --- status and the RPO ---
runf "status: rpo violated by old backups" 1 "" catalog --config "$C" status
check "VIOLATED shown" grep -q "^media .* 1d 02h  *VIOLATED" "$T/o"
ok "a backup now" backupd --config "$C" run nightly
run "status ok" catalog --config "$C" status --json
check "status json" test "$(jq_ "$T/o" "(d['ok'], d['sources'][0]['rpo_state'], d['sources'][0]['rpo_seconds'], d['locks'])")" = "(True, 'OK', 93600, [])"
run "status text" catalog --config "$C" status
check "OK shown" grep -q "^media .* 1d 02h  *OK" "$T/o"
# a backup waits for a source lock held by someone else, and takes it once it expires
soon=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
plant source-media other.example 4242 "$soon"
t0=$(date +%s)
run "backup waits for the source lock" backupd --config "$C" run nightly
check "it waited" test $(( $(date +%s) - t0 )) -ge 1
check "and took the expired lock over" grep -q "taking over stale lock locks/source-media" "$T/e"
check "and released it" test ! -e "$D/repo/locks/source-media"

# --- a prune killed with SIGKILL, and the next one finishing the job ---
K=$T/k
conf "$K" "" "keep-last = 1"
for h in 01 02 03 04 05 06 07 08 09 10; do ok "k backup $h" bk "$K/coffer.conf" "2026-11-06 $h:00:00"; done
KI=($(ids "$K"))
COFFER_TEST_PRUNE_PAUSE_MS=300 catalog --config "$K/coffer.conf" prune >"$T/k.out" 2>&1 &
pp=$!
on_exit "kill -9 $pp"
for _ in $(seq 100); do grep -q " delete " "$T/k.out" && break; sleep 0.05; done
kill -9 "$pp"; wait "$pp" 2>/dev/null
left=$(ids "$K" | wc -l)
check "killed half-way" test "$left" -gt 1 -a "$left" -lt 10
check "its lock is left behind" test -e "$K/repo/locks/prune"
# as if the kill had come between a manifest and its data: prune had written the removal
# record (removed/<source>/<id>), then removed the manifest
victim=${KI[0]}
(umask 077 && mkdir -p "$K/repo/removed/media" && echo '{"format": 1, "by": "prune"}' >"$K/repo/removed/media/$victim")
rm -f "$K/repo/backups/media/$victim/manifest"
run "nothing listed points to missing data" catalog --config "$K/coffer.conf" verify --all --quick
check "the half-removed backup is not listed" bash -c "! grep -q $victim $T/o"
run "the next prune finishes" catalog --config "$K/coffer.conf" prune
check "took over the dead lock" grep -q "taking over stale lock locks/prune" "$T/e"
check "swept the half-removed backup" grep -q "$victim  *sweep" "$T/o"
check "one backup left" test "$(ids "$K" | wc -l)" -eq 1
check "the newest" test "$(ids "$K")" = "${KI[-1]}"
check "no lock left" test -z "$(ls "$K/repo/locks" 2>/dev/null)"
run "list agrees" catalog --config "$K/coffer.conf" list
check "one row" test "$(grep -c '^media ' "$T/o")" -eq 1

# --- two prunes at once: exactly one runs ---
P=$T/p
conf "$P" "" "keep-last = 1"
for h in 01 02 03 04; do ok "p backup $h" bk "$P/coffer.conf" "2026-11-07 $h:00:00"; done
COFFER_TEST_PRUNE_PAUSE_MS=500 catalog --config "$P/coffer.conf" prune >"$T/p1.out" 2>&1 &
p1=$!
on_exit "kill -9 $p1"
for _ in $(seq 100); do [ -e "$P/repo/locks/prune" ] && break; sleep 0.05; done
runf "a second prune is refused while the first runs" 1 "is held by prune on $host pid $p1" \
    catalog --config "$P/coffer.conf" prune
wait "$p1"
check "the first one finished" test "$?" -eq 0
check "its work is done" test "$(ids "$P" | wc -l)" -eq 1
