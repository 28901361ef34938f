#!/usr/bin/env bash
# mirror.sh - mirrors ([mirror NAME], docs/RUNBOOK.md "Mirrors"): a local primary with a local
# and an S3 mirror (a real Ceph RADOS Gateway of its own). `backupd run` copies each backup to
# both; with the primary deleted entirely, each mirror lists, verifies and restores with
# --repository NAME. A mirror down during a run (an S3 endpoint at a closed port, a local path
# that is no directory): exit 3 naming it, the primary backup stands, `catalog status` flags
# the mirror, `catalog sync NAME` catches it up. A mirror of another repository is refused; a
# damaged object on the primary is not copied; a key change reaches the mirrors.
. "$COFFER_TESTS/lib/testlib.sh"
. "$COFFER_TESTS/lib/ceph.sh"
. "$COFFER_TESTS/lib/catalog_helpers.sh"

on_exit "ceph_stop '$T/ceph'"
ceph_start "$T/ceph" || { echo "not ok - the Ceph gateway starts"; exit 1; }
ok "a bucket for the S3 mirror is created" ceph_bucket coffer-mirror
printf '%s' "$S3_ACCESS_KEY" >"$T/s3.id"
printf '%s\n' "$S3_SECRET_KEY" >"$T/s3.secret"
chmod 600 "$T/s3.id" "$T/s3.secret"

make_rich_tree "$T/src"
head -c 3000000 /dev/urandom >"$T/src/big.bin"
OBJECT_SIZE=1MiB make_local_conf "$T/a" "$T/src"
mirror_far() { printf '\n[mirror far]\npath = %s\n' "$T/far"; }
mirror_cloud() {  # mirror_cloud ENDPOINT [EXTRA LINE]
    cat <<EOF

[mirror cloud]
target = s3
endpoint = $1
bucket = coffer-mirror
prefix = cloud/
region = $S3_REGION
uri-style = path
access-key-id-file = $T/s3.id
secret-access-key-file = $T/s3.secret
retries = 0
max-lag = 1s
${2:-}
EOF
}
cp "$T/a/coffer.conf" "$T/base.conf"
{ cat "$T/base.conf"; mirror_far; mirror_cloud "$S3_ENDPOINT"; } >"$T/a/coffer.conf"
C="--config $T/a/coffer.conf"
cobj() { echo "$S3_ENDPOINT/coffer-mirror/cloud/$1"; }

{ cat "$T/a/coffer.conf"; printf 'passphrase-file = /x\n'; } >"$T/badkey.conf"
fails "a mirror takes no key option of its own" 2 "unknown key 'passphrase-file'" \
    backupd --config "$T/badkey.conf" check-config --offline
fails "--repository of an unknown mirror" 2 "no [mirror nowhere]" catalog $C --repository nowhere list
for tool in "restore --source media --at latest --to $T/x" "backupd run nightly" "migrate --source media status"; do
    fails "${tool%% *} --repository of an unknown mirror" 2 "--repository nowhere: no [mirror nowhere]" \
        ${tool%% *} $C --repository=nowhere ${tool#* }
done
fails "init is never run on a mirror" 2 "first 'catalog sync far'" backupd $C --repository far init
ok "init" backupd $C init
ok "check-config accepts the mirrors" backupd $C check-config --offline
fails "a mirror not yet synced is no repository" 1 "catalog sync far" catalog $C --repository far list

# --- a mirror is made by its first sync; then each run copies its backup to both ------------
fails "a run with mirrors not yet made exits 3 naming them" 3 "mirror far" backupd $C run nightly
check "the message names the first sync" grep -q "first copy is made by 'catalog sync cloud'" "$_err"
check "nothing written at the local mirror's path" test ! -e "$T/far"
check "the primary backup stands" test "$(repo_backups "$T/a" media | wc -l)" = 1
run "the first sync makes the local mirror" catalog $C sync far
check "repo.json and one backup copied" grep -q "mirror far: 1 backups copied, .*repo.json copied" "$T/o"
ok "the first sync makes the S3 mirror" catalog $C sync cloud
ok "backup 1 with two mirrors" backupd $C run nightly
check "the local mirror's repo.json is the primary's, byte for byte" cmp "$T/a/repo/repo.json" "$T/far/repo.json"
s3_curl -o "$T/cloud.json" "$(cobj repo.json)"
check "the S3 mirror's repo.json is the primary's" cmp "$T/a/repo/repo.json" "$T/cloud.json"
id1=$(repo_backups "$T/a" media | tail -n 1)
check "the local mirror holds the backup's objects, byte for byte" \
    diff -r "$T/a/repo/backups" "$T/far/backups"
check "the S3 mirror holds its manifest" s3_curl -o /dev/null "$(cobj "backups/media/$id1/manifest")"
last=$(ls "$T/a/repo/backups/media/$id1/data" | tail -n 1)
check "the S3 mirror holds its last data object" s3_curl -o /dev/null "$(cobj "backups/media/$id1/data/$last")"
run "catalog status shows both mirrors OK" catalog $C status
check "status: far OK" grep -Eq '^far +2 +0 .* OK$' "$T/o"
check "status: cloud OK" grep -Eq '^cloud +2 +0 .* OK$' "$T/o"

# --- a mirror down during a run ----------------------------------------------------------
echo "second" >"$T/src/second.txt"
{ cat "$T/base.conf"; mirror_far; mirror_cloud "http://127.0.0.1:9"; } >"$T/down.conf"
fails "a run with the S3 mirror down exits 3 naming it" 3 "mirror cloud" \
    backupd --config "$T/down.conf" run nightly
check "the message says the backups stand" grep -q "the backups stand in the repository" "$_err"
check "the primary backup stands: 3 backups" test "$(repo_backups "$T/a" media | wc -l)" = 3
check "the local mirror got it all the same" test "$(ls "$T/far/backups/media"/*/manifest | wc -l)" = 3
sleep 2
runf "catalog status flags the S3 mirror BEHIND" 1 "mirror cloud is BEHIND" catalog $C status
check "status: cloud BEHIND, 1 missing" grep -Eq '^cloud +2 +1 .* BEHIND$' "$T/o"
runf "catalog status --json exits 1 too" 1 "" catalog $C status --json
check "json: cloud behind, far ok" test "$(jq_ "$T/o" "' '.join(m['mirror']+'='+m['state'] for m in d['mirrors'])")" = "far=OK cloud=BEHIND"
runf "status with the S3 mirror unreachable" 1 "mirror cloud" catalog --config "$T/down.conf" status
check "status: cloud UNREACHABLE" grep -Eq '^cloud .*UNREACHABLE$' "$T/o"
run "catalog sync cloud catches it up" catalog $C sync cloud
check "one backup copied" grep -q "mirror cloud: 1 backups copied" "$T/o"
ok "catalog status is OK again" catalog $C status
run "a second sync copies nothing" catalog $C sync cloud --json
check "json: nothing copied" test "$(jq_ "$T/o" "(d['ok'], d['backups'], d['objects'])")" = "(True, 0, 0)"

mv "$T/far" "$T/far.away"
touch "$T/far"
echo "third" >"$T/src/third.txt"
fails "a run with the local mirror no directory exits 3 naming it" 3 "mirror far" backupd $C run nightly
check "the primary backup stands: 4 backups" test "$(repo_backups "$T/a" media | wc -l)" = 4
rm "$T/far"
mv "$T/far.away" "$T/far"
run "catalog sync far catches it up" catalog $C sync far
check "far: one backup copied" grep -q "mirror far: 1 backups copied" "$T/o"
check "far holds the primary's backups, byte for byte" diff -r "$T/a/repo/backups" "$T/far/backups"

# --- a key change reaches the mirrors ------------------------------------------------------
head -c 32 /dev/urandom >"$T/k2" && chmod 600 "$T/k2"
ok "a second key slot" backupd $C key add --key-file "$T/k2" --label second
ok "sync far after the key change" catalog $C sync far
check "far's repo.json is the new one" cmp "$T/a/repo/repo.json" "$T/far/repo.json"
ok "the next run copies repo.json to cloud" backupd $C run nightly
s3_curl -o "$T/cloud.json" "$(cobj repo.json)"
check "cloud's repo.json is the new one" cmp "$T/a/repo/repo.json" "$T/cloud.json"

# --- the primary lost: everything from each mirror ----------------------------------------
tree_fingerprint "$T/src" >"$T/fp-src"
mv "$T/a/repo" "$T/primary.kept"
rm -f "$T/a/catalog.db"
for m in far cloud; do
    run "list from $m" catalog $C --repository $m list --json
    check "$m lists the 5 backups" test "$(jq_ "$T/o" "len(d)")" = 5
    ok "verify --all from $m" catalog $C --repository $m verify --all
    ok "restore from $m" restore $C --repository $m --source media --at latest --to "$T/out-$m"
    tree_fingerprint "$T/out-$m" >"$T/fp-$m"
    check "the tree restored from $m is the source's" cmp "$T/fp-src" "$T/fp-$m"
done
sed "s|^key-file = .*|key-file = $T/k2|" "$T/a/coffer.conf" >"$T/k2.conf"
run "the new key opens the mirror" catalog --config "$T/k2.conf" --repository far list --json
check "5 backups with the second key" test "$(jq_ "$T/o" "len(d)")" = 5
mv "$T/primary.kept" "$T/a/repo"

# --- a mirror of another repository is refused ---------------------------------------------
make_local_conf "$T/other" "$T/src"
ok "another repository" backupd --config "$T/other/coffer.conf" init
cp "$T/other/repo/repo.json" "$T/other.json"
{ cat "$T/a/coffer.conf"; printf '\n[mirror wrong]\npath = %s\n' "$T/other/repo"; } >"$T/wrong.conf"
fails "sync to another repository is refused" 2 "holds another repository" \
    catalog --config "$T/wrong.conf" sync wrong
check "its repo.json is untouched" cmp "$T/other.json" "$T/other/repo/repo.json"
fails "check-config names the mirror of another repository" 2 "[mirror wrong] mirror wrong" \
    backupd --config "$T/wrong.conf" check-config --offline
fails "check-config names an unreachable S3 mirror" 1 "[mirror cloud] mirror cloud" \
    backupd --config "$T/down.conf" check-config
check "and it got no backup" test ! -e "$T/other/repo/backups/media"

# --- a damaged object on the primary is not copied ------------------------------------------
ids=($(repo_backups "$T/a" media))
obj="$T/a/repo/backups/media/${ids[1]}/data/00000000"
printf 'X' | dd of="$obj" bs=1 seek=100 conv=notrunc status=none
{ cat "$T/a/coffer.conf"; printf '\n[mirror fresh]\npath = %s\nkeep-last = 10\n' "$T/fresh"; } >"$T/fresh.conf"
fails "sync of a damaged backup fails naming it" 1 "does not match its manifest" \
    catalog --config "$T/fresh.conf" sync fresh
check "the damaged backup has no manifest on the mirror" test ! -e "$T/fresh/backups/media/${ids[1]}/manifest"
check "nor its damaged object" test ! -e "$T/fresh/backups/media/${ids[1]}/data/00000000"
check "the other backups were copied" test -e "$T/fresh/backups/media/${ids[2]}/manifest"
ok "the mirror verifies" catalog --config "$T/fresh.conf" --repository fresh verify --all

# --- a mirror's own retention ------------------------------------------------------------
sed -i 's/^keep-last = 10$/keep-last = 1/' "$T/fresh.conf"
rm "$obj" && cp "$T/far/backups/media/${ids[1]}/data/00000000" "$obj"
ok "sync prunes the mirror by its own rules" catalog --config "$T/fresh.conf" sync fresh
check "the mirror keeps 1 backup" test "$(ls "$T/fresh/backups/media"/*/manifest | wc -l)" = 1
check "the primary keeps its 5" test "$(repo_backups "$T/a" media | wc -l)" = 5
run "a sync again copies nothing back" catalog --config "$T/fresh.conf" sync fresh
check "the 4 pruned ones left out" grep -q "mirror fresh: 0 backups copied, 0 objects, .*its own prune removed left out" "$T/o"

# --- every prefix is copied (logs/, and one a newer coffer may write), never locks/ ---------
mkdir -p "$T/a/repo/drills/media" "$T/a/repo/logs/media/00000001" "$T/a/repo/locks"
echo '{"drill": 1}' >"$T/a/repo/drills/media/report.json"
head -c 100000 /dev/urandom >"$T/a/repo/logs/media/00000001/000000010000000000000001"
echo '{}' >"$T/a/repo/locks/not-for-mirrors"
ok "sync far with new prefixes on the primary" catalog $C sync far
rm "$T/a/repo/locks/not-for-mirrors"
check "drills/ copied byte for byte" cmp "$T/a/repo/drills/media/report.json" "$T/far/drills/media/report.json"
check "logs/ copied byte for byte" cmp "$T/a/repo/logs/media/00000001/000000010000000000000001" \
    "$T/far/logs/media/00000001/000000010000000000000001"
check "locks/ never copied" test ! -e "$T/far/locks/not-for-mirrors"

# --- a repository sealed to a public key: the backup host copies without reading ------------
ok "keygen" backupd keygen --public "$T/p.pub" --secret "$T/p.sec"
mkdir -p "$T/pk"
cat >"$T/pk/coffer.conf" <<EOF2
[repository]
path = $T/pk/repo
public-key-file = $T/p.pub

[mirror pm]
path = $T/pm

[source media]
type = volume
path = $T/src

[job nightly]
sources = media

[catalog]
path = $T/pk/catalog.db
EOF2
P="--config $T/pk/coffer.conf"
ok "init sealed to a public key" backupd $P init
ok "the first sync makes its mirror" catalog $P sync pm
ok "backup with a mirror, public-key mode" backupd $P run nightly
check "the mirror holds the backup byte for byte" diff -r "$T/pk/repo/backups" "$T/pm/backups"
rm -rf "$T/pm/backups"
ok "sync without the secret key" catalog $P sync pm
check "it warns that sizes alone were checked" grep -q "checked against the listing's sizes only" "$_err"
ok "sync with the secret key" catalog $P sync pm --secret-key-file "$T/p.sec"
ok "restore from the mirror with the secret key" \
    restore $P --repository pm --secret-key-file "$T/p.sec" --source media --at latest --to "$T/out-pm"
tree_fingerprint "$T/out-pm" >"$T/fp-pm"
check "the tree restored from the public-key mirror is the source's" cmp "$T/fp-src" "$T/fp-pm"

# --- an incremental backup whose parent was pruned on the primary: its referenced segments
# live on under the parent's directory without a manifest, and a new mirror gets them too ---
echo "changed after the first backup" >"$T/src/changed.txt"
ok "an incremental backup (public-key mode: the parent's index from the cache)" backupd $P run nightly
sed -e 's/^sources = media$/sources = media\nkeep-last = 1/' \
    -e "s|^path = $T/pm\$|path = $T/pm\\n\\n[mirror pm2]\\npath = $T/pm2|" "$T/pk/coffer.conf" >"$T/pk/prune.conf"
P2="--config $T/pk/prune.conf"
ok "prune keeps only the incremental one" catalog $P2 prune --secret-key-file "$T/p.sec"
check "...whose parent's manifest is gone from the primary" test "$(ls "$T/pk/repo/backups/media" | wc -l)" -ge 2 -a \
    "$(ls "$T/pk/repo/backups/media"/*/manifest | wc -l)" = 1
ok "a new mirror's first sync" catalog $P2 sync pm2
ok "the incremental backup restores from the new mirror" \
    restore $P2 --repository pm2 --secret-key-file "$T/p.sec" --source media --at latest --to "$T/out-pm2"
tree_fingerprint "$T/src" >"$T/fp-src2"
tree_fingerprint "$T/out-pm2" >"$T/fp-pm2"
check "...and is the source's tree" cmp "$T/fp-src2" "$T/fp-pm2"
