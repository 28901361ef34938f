#!/usr/bin/env bash
# catalog_index.sh - the catalog index against a real local repository: backupd records,
# list/show/at with filters, the index as a cache (repository wins), missing, corrupted and
# locked index, unreachable repository, a damaged manifest, pins surviving a rebuild, and
# public-key mode needing the secret key.
. "$COFFER_TESTS/lib/testlib.sh"
. "$COFFER_TESTS/lib/catalog_helpers.sh"

mkdir -p "$T/src" && echo hello >"$T/src/a"
make_local_conf "$T" "$T/src"
C=$T/coffer.conf
# make_local_conf's [catalog] section, moved to an index directory of its own
sed -i "s|^path = $T/catalog.db\$|path = $T/state/catalog.db|" "$C"
# a second configuration with its own index: a "new host" that sees the same repository
sed "s|$T/state/catalog.db|$T/host2/catalog.db|" "$C" >"$T/host2.conf"
cat_() { catalog --config "$C" "$@"; }

run "init" backupd --config "$C" init
run "backup 1" bk "$C" "2026-11-01 03:00:00"
run "backup 2" bk "$C" "2026-11-02 03:00:00"
run "backup 3" bk "$C" "2026-11-03 03:00:00"
ids=($(ls "$T/repo/backups/media"))
check "three backups in the repository" test "${#ids[@]}" -eq 3

# backupd recorded each one in the index as it committed, before any catalog command
check "backupd run recorded the backups" \
    test "$(sqlite3 "$T/state/catalog.db" "select count(*) from backups where status = 0")" = 3
check "index file is private" test "$(stat -c %a "$T/state/catalog.db")" = 600

run "list" cat_ list
check "list shows the three" test "$(cat "$T/o" | grep -c '^media ')" -eq 3
check "list did not need a refresh" bash -c "! grep -q refreshed $T/e"
run "list --json" cat_ list --json
last_out >"$T/list.json"
check "json: stable fields" test "$(jq_ "$T/list.json" "sorted(d[0].keys())==sorted(['repository','source','id','time','kind','job','started','finished','status','damage','bytes_in','bytes_stored','objects','tool','consistency','details','pinned','pin_reason','pinned_at','verify'])")" = True
# faketime's clock starts at 03:00:00 and runs on: compare the time to the minute
check "json: values" test "$(jq_ "$T/list.json" "(d[0]['id'], d[0]['kind'], d[0]['job'], d[0]['status'], d[0]['time'][:17])")" = "('${ids[0]}', 'volume', 'nightly', 'complete', '2026-11-01T03:00:')"
run "list --since --until" cat_ list --since 2026-11-01T12:00:00Z --until 2026-11-02T12:00:00Z
check "one in that window" test "$(cat "$T/o" | grep -c '^media ')" -eq 1
run "list --job other" cat_ list --job other
check "no backups of job other" grep -q "no backups" "$T/o"
run "list --source media" cat_ list --source media
runf "bad --since" 2 "--since" cat_ list --since yesterday

run "show" cat_ show "${ids[1]}" --json
check "show has manifest details" test "$(jq_ "$T/o" "(d['id'], 'object_list' in d, d['host'] is not None)")" = "('${ids[1]}', True, True)"
runf "show unknown" 1 "HINT:" cat_ show 20200101T000000Z-00000000

run "at latest" cat_ at latest --json
check "latest is the newest" test "$(jq_ "$T/o" "d['sources'][0]['backup']['id']")" = "${ids[2]}"
check "latest is said as latest, not as a far-future date" test "$(jq_ "$T/o" "d['at']")" = latest
run "at between backups" cat_ at 2026-11-02T12:00:00Z --json
check "at picks backup 2" test "$(jq_ "$T/o" "d['sources'][0]['backup']['id']")" = "${ids[1]}"
runf "at before the first" 1 "no complete backup of source 'media' at or before" cat_ at 2026-10-01T00:00:00Z
check "at says none" grep -q "no complete backup" "$T/o"

# the index is a cache: the repository wins, but a backup removed by hand (no prune) is not
# dropped silently: it is listed as vanished (catalog_vanished.sh covers verify/status/forget)
rm -rf "$T/repo/backups/media/${ids[0]}"
run "list after a backup vanished" cat_ list
check "list says it refreshed" grep -q "index refreshed from the repository: 0 added (0 damaged), 0 gone, 0 re-read, 0 pins changed, backups VANISHED" "$T/e"
check "vanished backup listed as vanished" grep -q "^media .*${ids[0]} .* vanished" "$T/o"
run "backup made through another host" bk "$T/host2.conf" "2026-11-04 03:00:00"
run "list after a backup appeared" cat_ list
check "list says 1 added" grep -q "1 added" "$T/e"
check "four rows, one vanished" test "$(sqlite3 "$T/state/catalog.db" "select count(*) from backups where status = 3")" = 1
ids=($(ls "$T/repo/backups/media"))

# index missing: rebuilt on the spot
rm -f "$T/state/catalog.db"
run "list with the index removed" cat_ list
check "index built" grep -q "index built from the repository: 3 added" "$T/e"
check "three listed" test "$(cat "$T/o" | grep -c '^media ')" -eq 3

# index corrupted: moved aside, rebuilt
head -c 8192 /dev/urandom >"$T/state/catalog.db"
run "list with a corrupted index" cat_ list
check "warns and moves it aside" grep -q "moved aside to" "$T/e"
check "broken file kept" bash -c "ls $T/state/catalog.db.broken-* >/dev/null"
check "still lists all" test "$(cat "$T/o" | grep -c '^media ')" -eq 3

# index locked by another process: a clear error after the busy timeout
python3 - "$T/state/catalog.db" "$T/locked" <<'PY' &
import sqlite3, sys, time, os
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(30)
PY
holder=$!
on_exit "kill $holder"
for _ in $(seq 50); do [ -e "$T/locked" ] && break; sleep 0.1; done
run "list still answers while another process writes the index" cat_ list
check "all rows" test "$(grep -c '^media ' "$T/o")" -eq 3
runf "rebuild (a write) waits, then fails clearly" 1 "is locked by another process" cat_ rebuild
check "with a hint" grep -q "HINT:" "$T/e"
runf "a backup while the index is locked still succeeds" 0 "not in the catalog index" fake_clock "@2026-10-20 03:00:00" backupd --config "$C" run nightly
kill "$holder"; wait "$holder" 2>/dev/null
run "the next list adds it" cat_ list
check "said 1 added" grep -q "1 added" "$T/e"
ids=($(ls "$T/repo/backups/media"))

# repository unreachable: read commands answer from the index, loudly; status fails
mv "$T/repo" "$T/repo.away"
run "list with the repository unreachable" cat_ list
check "warns it is unreachable" grep -q "repository unreachable" "$T/e"
check "rows from the index" test "$(cat "$T/o" | grep -c '^media ')" -eq 4
run "list --json offline" cat_ list --json
check "offline said on stderr" grep -q "repository unreachable" "$T/e"
check "json rows from the index" test "$(jq_ "$T/o" "len(d)")" = 4
runf "status --json offline fails" 1 "repository unreachable" catalog --config "$C" status --json
check "status json says offline" test "$(jq_ "$T/o" "(d['ok'], d['catalog']['offline'])")" = "(False, True)"
runf "status fails while unreachable" 1 "repository unreachable" cat_ status
runf "prune refuses while unreachable" 1 "error:" cat_ prune
runf "pin refuses while unreachable" 1 "error:" cat_ pin "${ids[0]}"
mv "$T/repo.away" "$T/repo"

# a manifest that fails to decrypt: damaged, never chosen by at or restore
m="$T/repo/backups/media/${ids[3]}/manifest"
printf '\xff\xff\xff\xff' | dd of="$m" bs=1 seek=60 conv=notrunc status=none
rm -f "$T/state/catalog.db"
run "list with a damaged manifest" cat_ list
check "listed as damaged" grep -q "${ids[3]}.*damaged" "$T/o"
check "said so while building" grep -q "1 damaged" "$T/e"
run "at skips the damaged one" cat_ at now --json
check "at picks the one before" test "$(jq_ "$T/o" "d['sources'][0]['backup']['id']")" = "${ids[2]}"
run "restore --at agrees" restore --config "$C" --source media --at now --to "$T/out" --dry-run
check "restore plan names the same backup" grep -q "${ids[2]}" "$T/o"
runf "show of the damaged one exits 1" 1 "" cat_ show "${ids[3]}"

# pins live in the repository: a rebuilt index keeps them
run "pin" cat_ pin "${ids[0]}" --reason "incident 4711"
check "pin object in the repository" test -f "$T/repo/pins/media/${ids[0]}"
run "rebuild" cat_ rebuild
check "rebuild counts" grep -q "4 backups (1 damaged, 1 pinned)" "$T/o"
run "list after rebuild" cat_ list --json
check "pin and reason kept" test "$(jq_ "$T/o" "[(b['pinned'], b['pin_reason']) for b in d if b['id']=='${ids[0]}'][0]")" = "(True, 'incident 4711')"
# a fresh host with only the repository and the key gets the same rows
rm -f "$T/host2/catalog.db"   # host 2 as a fresh machine: only the repository and the key
run "new host: list" catalog --config "$T/host2.conf" list --json
python3 - "$T/o" "$T/list2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
json.dump([{k: v for k, v in b.items() if k != 'verify'} for b in d], open(sys.argv[2], 'w'), sort_keys=True)
PY
cat_ list --json >"$T/list1.raw"
python3 - "$T/list1.raw" "$T/list1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
json.dump([{k: v for k, v in b.items() if k != 'verify'} for b in d], open(sys.argv[2], 'w'), sort_keys=True)
PY
check "new host sees the same rows" diff "$T/list1.json" "$T/list2.json"
run "unpin" cat_ unpin "${ids[0]}"
check "pin object gone" test ! -e "$T/repo/pins/media/${ids[0]}"
run "new host sees the unpin" catalog --config "$T/host2.conf" list --json
check "unpinned there" test "$(jq_ "$T/o" "[b['pinned'] for b in d if b['id']=='${ids[0]}'][0]")" = False
runf "pin unknown id" 1 "no backup" cat_ pin 20200101T000000Z-00000000
runf "pin needs an id" 2 "wrong arguments" cat_ pin
runf "unknown command" 2 "unknown command" cat_ frobnicate

# public-key mode: the writer cannot read manifests; rebuild needs the secret key
mkdir -p "$T/pk/src" && echo x >"$T/pk/src/f"
run "keygen" backupd keygen --public "$T/pk/repo.pub" --secret "$T/pk/repo.sec"
cat >"$T/pk/coffer.conf" <<EOF
[repository]
target = local
path = $T/pk/repo
public-key-file = $T/pk/repo.pub

[catalog]
path = $T/pk/catalog.db

[source media]
type = volume
path = $T/pk/src

[job nightly]
sources = media
EOF
run "pk init" backupd --config "$T/pk/coffer.conf" init
run "pk backup" backupd --config "$T/pk/coffer.conf" run nightly
run "pk list without the secret key" catalog --config "$T/pk/coffer.conf" list --json
check "listed without details, as sealed" test "$(jq_ "$T/o" "(len(d), d[0]['details'], d[0]['status'])")" = "(1, False, 'sealed')"
runf "pk rebuild without the secret key" 2 "--secret-key-file" catalog --config "$T/pk/coffer.conf" rebuild
check "says why" grep -q "sealed to a public key" "$T/e"
run "pk rebuild with the secret key" catalog --config "$T/pk/coffer.conf" rebuild --secret-key-file "$T/pk/repo.sec"
run "pk list with details" catalog --config "$T/pk/coffer.conf" list --json --secret-key-file "$T/pk/repo.sec"
check "details read" test "$(jq_ "$T/o" "(d[0]['details'], d[0]['kind'], d[0]['bytes_in'] > 0)")" = "(True, 'volume', True)"
# drills: reading a report needs the secret key; a refresh without it skips them, no error
run "pk drill with the secret key" restore --config "$T/pk/coffer.conf" drill --source media \
    --secret-key-file "$T/pk/repo.sec" --scratch-dir "$T/pk"
check "the drill is in the index" test "$(sqlite3 "$T/pk/catalog.db" "select count(*), sum(ok) from drills where subject = 'source.media'")" = "1|1"
# an index that cannot be opened does not fail the drill: a warning
echo file >"$T/pk/notadir"
sed "s|^path = $T/pk/catalog.db|path = $T/pk/notadir/catalog.db|" "$T/pk/coffer.conf" >"$T/pk/noindex.conf"
run "pk drill with no usable index passes" restore --config "$T/pk/noindex.conf" drill \
    --source media --secret-key-file "$T/pk/repo.sec" --scratch-dir "$T/pk"
check "with a warning" grep -q "warning: unable to record the drill in the catalog index" "$T/e"
rm -f "$T/pk/catalog.db" "$T/pk/catalog.db-wal" "$T/pk/catalog.db-shm"
run "pk list without the secret key, drills under drills/" catalog --config "$T/pk/coffer.conf" list
check "no drill learnt, no warning" test "$(sqlite3 "$T/pk/catalog.db" "select count(*) from drills")" = 0 -a -z "$(grep -i 'drill\|warning' "$T/e")"
run "pk list with the secret key" catalog --config "$T/pk/coffer.conf" list --secret-key-file "$T/pk/repo.sec"
check "the drill learnt from drills/" test "$(sqlite3 "$T/pk/catalog.db" "select count(*), sum(ok) from drills")" = "2|2"
