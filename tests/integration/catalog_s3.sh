#!/usr/bin/env bash
# catalog_s3.sh - the catalog on an S3 repository (a real Ceph RADOS Gateway): the prune lock
# created with If-None-Match (two prunes, one refused), a stale lock taken over, pins stored
# in the bucket surviving a rebuild, debris swept, verify --quick by object sizes.
. "$COFFER_TESTS/lib/testlib.sh"
. "$COFFER_TESTS/lib/ceph.sh"
. "$COFFER_TESTS/lib/catalog_helpers.sh"

on_exit "ceph_stop '$T/ceph'"
ceph_start "$T/ceph" || { echo "not ok - the Ceph gateway starts"; exit 1; }
ok "a bucket is created" ceph_bucket coffer-cat

mkdir -p "$T/src" && echo data >"$T/src/f"
printf '%s' "$S3_ACCESS_KEY" >"$T/s3.id"
printf '%s\n' "$S3_SECRET_KEY" >"$T/s3.secret"
head -c 32 /dev/urandom >"$T/repo.key"
chmod 600 "$T/s3.id" "$T/s3.secret" "$T/repo.key"
conf() {  # conf FILE INDEX
    cat >"$1" <<EOF
[repository]
target = s3
endpoint = $S3_ENDPOINT
bucket = coffer-cat
prefix = cat
region = $S3_REGION
uri-style = path
access-key-id-file = $T/s3.id
secret-access-key-file = $T/s3.secret
key-file = $T/repo.key

[source media]
type = volume
path = $T/src

[job nightly]
sources = media
keep-last = 2

[catalog]
path = $2
EOF
}
conf "$T/a.conf" "$T/a.db"
conf "$T/b.conf" "$T/b.db"   # a second host
C="--config $T/a.conf"
obj() { echo "$S3_ENDPOINT/coffer-cat/cat/$1"; }
absent() { ! s3_curl -o /dev/null "$1"; }

ok "init" backupd $C init
for i in 1 2 3 4 5; do ok "backup $i" backupd $C run nightly; done
run "list" catalog $C list --json
check "five backups listed" test "$(jq_ "$T/o" "len(d)")" = 5
ids=($(jq_ "$T/o" "' '.join(b['id'] for b in d)"))
run "pin the oldest" catalog $C pin "${ids[0]}" --reason "audit"
check "pin object in the bucket" s3_curl -o /dev/null "$(obj "pins/media/${ids[0]}")"

# two prunes at once: the lock is created with If-None-Match, one of them is refused
COFFER_TEST_PRUNE_PAUSE_MS=700 catalog $C prune >"$T/p1.out" 2>&1 &
p1=$!
on_exit "kill -9 $p1"
for _ in $(seq 100); do s3_curl -o /dev/null "$(obj locks/prune)" && break; sleep 0.05; done
runf "a second prune (another host) is refused" 1 "is held by prune on" \
    catalog --config "$T/b.conf" prune
wait "$p1"
check "the first prune finished" test "$?" -eq 0
check "it deleted the two unkept" test "$(grep -c ' delete ' "$T/p1.out")" -eq 2
check "the lock is gone" absent "$(obj locks/prune)"
run "list after prune" catalog $C list --json
check "three left: two last and the pinned" test "$(jq_ "$T/o" "sorted(b['id'] for b in d) == sorted(['${ids[0]}', '${ids[3]}', '${ids[4]}'])")" = True
# the number of objects under a backup (curl signs the query as written: '/' encoded)
keys_under() {
    s3_curl "$S3_ENDPOINT/coffer-cat?list-type=2&prefix=cat%2Fbackups%2Fmedia%2F$1%2F" >"$T/ls.xml" || { echo failed; return; }
    grep -o '<Key>' "$T/ls.xml" | wc -l
}
check "the pruned backups' objects are gone from the bucket (DeleteObjects)" \
    test "$(keys_under "${ids[1]}")$(keys_under "${ids[2]}")" = 00
check "a kept backup's objects are still there" test "$(keys_under "${ids[3]}")" -ge 2

# a stale lock (expired) in the bucket is taken over
printf '{"format":1,"name":"prune","purpose":"prune","host":"gone.example","pid":1,"token":"00","created":"2026-01-01T00:00:00Z","renewed":"2026-01-01T00:00:00Z","expires":"2026-01-01T00:10:00Z"}' >"$T/lock.json"
ok "plant an expired lock" s3_curl -X PUT --data-binary @"$T/lock.json" "$(obj locks/prune)"
run "status lists it" catalog $C status
check "as stale" grep -q "prune .*gone.example pid 1 .*STALE" "$T/o"
# and debris of a backup that never committed, long ago
echo junk >"$T/junk"
ok "plant debris" s3_curl -X PUT --data-binary @"$T/junk" "$(obj backups/media/20260101T000000Z-00000000/data/00000000)"
run "prune takes the lock over and sweeps" catalog $C prune
check "warned about the takeover" grep -q "taking over stale lock locks/prune held by prune on gone.example" "$T/e"
check "swept the debris" grep -q "20260101T000000Z-00000000  *sweep" "$T/o"
check "debris gone from the bucket" absent "$(obj backups/media/20260101T000000Z-00000000/data/00000000)"

# a fresh host rebuilds from the bucket alone: same rows, pin included
run "rebuild on the second host" catalog --config "$T/b.conf" rebuild
check "three backups, one pinned" grep -q "3 backups (0 damaged, 1 pinned)" "$T/o"
run "verify --quick over S3" catalog --config "$T/b.conf" verify --all --quick
check "all present with their sizes" grep -q "3 backups verified (quick), 0 damaged" "$T/o"
