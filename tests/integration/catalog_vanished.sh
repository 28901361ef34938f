#!/usr/bin/env bash
# catalog_vanished.sh - a backup never vanishes silently: a manifest removed behind coffer's
# back is reported by `catalog verify` and `catalog status` (exit 1, naming it), on every host
# whose index knew the backup, until `catalog forget ID`; backups that prune removed are not
# reported (removal records in removed/); a rebuild keeps the vanished rows; prune leaves the
# data of a vanished backup; missing data under a present manifest is still damage.
# coffer-targets: local s3
. "$COFFER_TESTS/lib/testlib.sh"
. "$COFFER_TESTS/lib/catalog_helpers.sh"

mkdir -p "$T/src" && echo data >"$T/src/f"
make_conf "$T/c" "$T/src"
C=$T/c/coffer.conf
sed -i 's|^type = volume$|type = volume\nkeep-last = 2|' "$C"
# so that the forgotten backup's data is swept in this test, not a day later
sed -i 's|^\[catalog\]$|[catalog]\ndebris-grace = 0s|' "$C"
# a second host: its own index, the same repository
sed "s|$T/c/catalog.db|$T/host2/catalog.db|" "$C" >"$T/host2.conf"
cat_() { catalog --config "$C" "$@"; }
cat2() { catalog --config "$T/host2.conf" "$@"; }

ok "init" backupd --config "$C" init
# real time, not faketime: S3 refuses requests signed at another time (ids: one per second)
for n in 1 2 3 4; do ok "backup $n" backupd --config "$C" run nightly; [ $n = 4 ] || sleep 1; done
repo_backups "$T/c" media >"$T/ids"
ids=($(cat "$T/ids"))
check "four backups" test "${#ids[@]}" -eq 4
run "host 2 sees them" cat2 list
check "host 2 lists four" test "$(grep -c '^media ' "$T/o")" -eq 4

run "prune (keep-last 2) deletes the two oldest" cat_ prune
check "two deleted" grep -q "2 kept, 2 deleted" "$T/o"
repo_keys "$T/c" removed/ >"$T/removed"
check "removed/media/<id> for each pruned backup" bash -c "grep -qx 'removed/media/${ids[0]}' '$T/removed' && grep -qx 'removed/media/${ids[1]}' '$T/removed' && [ \$(wc -l <'$T/removed') -eq 2 ]"
run "status after a prune: exit 0" cat_ status
run "host 2: backups pruned by another host are not vanished" cat2 status
check "host 2 counted them as gone" grep -q "2 gone" "$T/e"
check "and reported nothing vanished" bash -c "! grep -qi vanished '$T/e' '$T/o'"

# the manifest of backup 3 removed by hand
ok "the manifest of ${ids[2]} is deleted behind coffer's back" repo_rm "$T/c" "backups/media/${ids[2]}/manifest"
runf "verify --all exits 1" 1 "" cat_ verify --all
check "verify names the vanished backup" grep -q "^media/${ids[2]}: VANISHED: its manifest is missing" "$T/o"
check "verify counts it" grep -q "backups verified, 0 damaged, 1 VANISHED" "$T/o"
check "with a hint naming forget" grep -q "HINT: .*catalog forget ${ids[2]}" "$T/o"
check "the other backup verifies" grep -q "^media/${ids[3]}: ok" "$T/o"
runf "status exits 1" 1 "media/${ids[2]} VANISHED" cat_ status
check "status: the hint" grep -q "HINT: .*catalog forget ${ids[2]}" "$T/e"
check "status: the state column" grep -q "^media .* VANISHED" "$T/o"
runf "status --json exits 1" 1 "" cat_ status --json
check "status --json lists it under vanished" test "$(jq_ "$T/o" "(d['ok'], [v['id'] for v in d['sources'][0]['vanished']])")" = "(False, ['${ids[2]}'])"
run "list shows it as vanished" cat_ list
check "list: status vanished" grep -q "^media .*${ids[2]} .* vanished" "$T/o"
runf "host 2 reports it too" 1 "media/${ids[2]} VANISHED" cat2 status
runf "verify --latest reports it too" 1 "" cat_ verify --latest --quick
check "verify --latest names it" grep -q "^media/${ids[2]}: VANISHED" "$T/o"
runf "verify ID of a vanished backup" 1 "" cat_ verify "${ids[2]}"
check "says vanished, not damaged" grep -q "^media/${ids[2]}: VANISHED" "$T/o"

run "prune leaves the data of the vanished backup" cat_ prune
check "prune says why" grep -q "${ids[2]} .*leave .*vanished backup, kept until .catalog forget" "$T/o"
repo_keys "$T/c" "backups/media/${ids[2]}/" >"$T/left"
check "its data objects are still there" grep -q "/data/" "$T/left"
run "rebuild" cat_ rebuild
check "rebuild keeps the vanished row" grep -q "1 vanished backups kept" "$T/o"
runf "status after the rebuild still exits 1" 1 "media/${ids[2]} VANISHED" cat_ status

runf "forget refuses a backup that is not vanished" 2 "is complete, not vanished" cat_ forget "${ids[3]}"
runf "forget of an unknown id" 1 "no backup 'nope'" cat_ forget nope
run "forget the vanished backup" cat_ forget "${ids[2]}"
check "forget says so" grep -q "media/${ids[2]}: forgotten" "$T/o"
run "verify --all exits 0 after forget" cat_ verify --all
run "status exits 0 after forget" cat_ status
run "host 2 sees the forget (removal record)" cat2 status
check "host 2 reports nothing vanished" bash -c "! grep -qi vanished '$T/e' '$T/o'"
run "list leaves it out" cat_ list
check "not listed" bash -c "! grep -q '${ids[2]}' '$T/o'"
run "prune now sweeps its data as debris" cat_ prune
check "swept" grep -q "${ids[2]} .*sweep" "$T/o"

# data missing under a present manifest: damage, as before
ok "a data object of ${ids[3]} is deleted" repo_rm "$T/c" "backups/media/${ids[3]}/data/00000000"
runf "verify --all exits 1" 1 "" cat_ verify --all
check "the backup is damaged, not vanished" grep -q "^media/${ids[3]}: DAMAGED" "$T/o"
check "nothing vanished" bash -c "! grep -q VANISHED '$T/o'"
