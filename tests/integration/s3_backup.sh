#!/usr/bin/env bash
# backupd / catalog / restore against an S3 repository on a real Ceph RADOS Gateway: the same
# backup, verify and restore flow as the local repository, objects of several multipart parts,
# a backup through a proxy that drops, fails, stalls and cuts requests, and a backup killed
# in the middle of its upload leaving no listed backup and no readable half.
source "$COFFER_TESTS/lib/testlib.sh"
source "$COFFER_TESTS/lib/ceph.sh"

on_exit "ceph_stop '$T/ceph'"
ceph_start "$T/ceph" || { echo "not ok - the Ceph gateway starts"; exit 1; }
echo "ok - the Ceph gateway starts"
ok "a bucket is created" ceph_bucket coffer-b

mkdir -p "$T/c" "$T/src/sub"
printf '%s' "$S3_ACCESS_KEY" >"$T/c/s3.id"
printf '%s\n' "$S3_SECRET_KEY" >"$T/c/s3.secret"
head -c 32 /dev/urandom >"$T/c/repo.key"
chmod 600 "$T/c/s3.id" "$T/c/s3.secret" "$T/c/repo.key"
# 3 x 9 MiB of random data (incompressible) and some text
for i in 1 2 3; do head -c $((9 << 20)) /dev/urandom >"$T/src/rand$i.bin"; done
for i in $(seq 1 20000); do echo "line $i of some text that compresses well"; done >"$T/src/sub/text.txt"
ln -s sub/text.txt "$T/src/link"

# s3_conf FILE ENDPOINT PREFIX [extra lines]
s3_conf() {
    cat >"$1" <<CONF
[repository]
target = s3
endpoint = $2
bucket = coffer-b
prefix = $3
region = $S3_REGION
uri-style = path
access-key-id-file = $T/c/s3.id
secret-access-key-file = $T/c/s3.secret
part-size = 5MiB
upload-concurrency = 3
key-file = $T/c/repo.key
object-size = 24MiB
${4:-}

[source media]
type = volume
path = $T/src
# layout 1: one stream cut into 24 MiB objects, each backup whole (what this test exercises)
incremental = no

[job nightly]
sources = media

[catalog]
path = $1.db
CONF
}
s3_conf "$T/c/coffer.conf" "$S3_ENDPOINT" repo1
C="--config $T/c/coffer.conf"

ok "init creates the repository in the bucket" backupd $C init
ok "check-config accepts the s3 repository (reached, initialised, opened by the key)" backupd $C check-config
ok "backup to s3 runs" backupd $C run nightly
ok "catalog list" catalog $C list --json
cp "$_out" "$T/list1.json"
check "one complete backup is listed" python3 -c "
import json; rows=json.load(open('$T/list1.json')); assert len(rows)==1 and rows[0]['status']=='complete', rows"
id=$(python3 -c "import json; print(json.load(open('$T/list1.json'))[0]['id'])")
ok "catalog show" catalog $C show "$id" --json
cp "$_out" "$T/show1.json"
check "the backup has an object of more than 3 parts (24 MiB objects, 5 MiB parts)" python3 -c "
import json; r=json.load(open('$T/show1.json')); objs=r['object_list']
assert any(o['size'] > 3*5*1024*1024 for o in objs), objs"
ok "catalog verify reads every object back from s3" catalog $C verify "$id"
cp "$_out" "$T/verify1.out"
check "verify says ok" grep -q "1 backups verified, 0 damaged" "$T/verify1.out"
ok "restore from s3" restore $C --source media --at now --to "$T/out"
ok "restored tree equals the source" diff -r --no-dereference "$T/src" "$T/out"

# wrong secret and missing bucket, through the tools
printf 'wrong\n' >"$T/c/bad.secret"; chmod 600 "$T/c/bad.secret"
sed "s|$T/c/s3.secret|$T/c/bad.secret|" "$T/c/coffer.conf" >"$T/c/bad.conf"
fails "a wrong secret gives an authentication error" 1 "SignatureDoesNotMatch" backupd --config "$T/c/bad.conf" run nightly
cp "$_err" "$T/auth.err"
check "with a hint" grep -q "HINT: the secret access key is wrong" "$T/auth.err"
check "the secret is not printed" bash -c "! grep -qF -- '$S3_SECRET_KEY' '$T/auth.err'"
sed "s|^bucket = coffer-b|bucket = coffer-none|" "$T/c/coffer.conf" >"$T/c/nobucket.conf"
fails "a missing bucket is named (a configuration error, exit 2)" 2 "bucket 'coffer-none' does not exist" backupd --config "$T/c/nobucket.conf" run nightly

# through the fault proxy: drops, 500/503, stalls beyond the timeout, answers cut short
s3_proxy_start proxy --drop 0.12 --error 0.15 --stall 0.05 --stall-seconds 2.5 --cut 0.1 --seed 11
proxy=$PROXY_PID
s3_conf "$T/c/faults.conf" "http://127.0.0.1:$PROXY_PORT" repo1 "timeout = 2
retries = 8"
ok "backup through the fault proxy completes" backupd --config "$T/c/faults.conf" run nightly
ok "catalog verify --all through the fault proxy finds both backups intact" catalog --config "$T/c/faults.conf" verify --all
cp "$_out" "$T/verify2.out"
check "verify says 2 ok" grep -q "2 backups verified, 0 damaged" "$T/verify2.out"
ok "restore through the fault proxy" restore --config "$T/c/faults.conf" --source media --at latest --to "$T/out2"
ok "restored tree equals the source" diff -r --no-dereference "$T/src" "$T/out2"
check "the proxy injected every kind of fault" python3 -c "
import json; s=json.load(open('$T/proxy.stats'))
assert all(s[k] > 0 for k in ('drop','error','stall','cut')), s"

# TLS is always verified: a self-signed endpoint is refused until ca-file names its CA
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.pem" -days 1 \
    -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
s3_proxy_start tls --drop 0 --error 0 --stall 0 --cut 0 --tls-cert "$T/tls.pem" --tls-key "$T/tls.key"
tlsproxy=$PROXY_PID
s3_conf "$T/c/tls.conf" "https://127.0.0.1:$PROXY_PORT" repo1 "retries = 1"
fails "an unknown certificate authority is refused" 1 "TLS certificate was not accepted" backupd --config "$T/c/tls.conf" run nightly
cp "$_err" "$T/tls.err"
check "with a hint to set ca-file" grep -q "HINT: give the certificate authority in ca-file" "$T/tls.err"
s3_conf "$T/c/tls-ca.conf" "https://127.0.0.1:$PROXY_PORT" repo1 "ca-file = $T/tls.pem"
ok "with ca-file the same endpoint works over TLS" catalog --config "$T/c/tls-ca.conf" list
kill "$tlsproxy"

# a backup killed mid-upload: slow every request down through the proxy, kill -9 it
kill "$proxy"; wait "$proxy" 2>/dev/null
s3_proxy_start slow --drop 0 --error 0 --stall 1 --stall-seconds 0.7 --cut 0
s3_conf "$T/c/slow.conf" "http://127.0.0.1:$PROXY_PORT" repo1
backupd --config "$T/c/slow.conf" run nightly >"$T/killed.out" 2>&1 &
victim=$!
on_exit "kill -9 $victim"
sleep 4
check "the slowed backup was still running after 4 s" kill -0 "$victim"
kill -9 "$victim"; wait "$victim" 2>/dev/null
ok "catalog list after the kill" catalog $C list --json
cp "$_out" "$T/list2.json"
check "still exactly the two complete backups" python3 -c "
import json; rows=json.load(open('$T/list2.json')); assert len(rows)==2 and all(r['status']=='complete' for r in rows), rows"
ok "restore --at latest still restores a complete backup" restore $C --source media --at latest --to "$T/out3"
ok "which equals the source" diff -r --no-dereference "$T/src" "$T/out3"

# prune aborts the multipart upload the killed backup left on the server
open_uploads() { s3_curl "$S3_ENDPOINT/coffer-b?uploads=" | grep -o '<Upload>' | wc -l; }
check "the killed backup left an unfinished upload" test "$(open_uploads)" -ge 1
cp "$T/c/coffer.conf" "$T/c/prune.conf"
printf 'debris-grace = 0s\n' >>"$T/c/prune.conf"   # appended to [catalog], the last section
ok "catalog prune" catalog --config "$T/c/prune.conf" prune
check "no unfinished upload is left" test "$(open_uploads)" -eq 0
ok "catalog list after prune" catalog $C list --json
cp "$_out" "$T/list3.json"
check "prune kept the two complete backups" python3 -c "
import json; rows=json.load(open('$T/list3.json')); assert len(rows)==2, rows"

# an object's commit fails (CompleteMultipartUpload answers 500, no retries) while the next
# object is being written: the backup fails naming that object, lists nothing, and leaves no
# multipart upload open (both writers abort theirs)
s3_proxy_start complete --drop 0 --error 1 --stall 0 --cut 0 --only '^POST [^ ]*uploadId='
s3_conf "$T/c/complete.conf" "http://127.0.0.1:$PROXY_PORT" repo1 "retries = 0"
fails "a backup whose first object cannot be completed fails" 1 "object 0: unable to commit" backupd --config "$T/c/complete.conf" run nightly
check "the proxy failed a CompleteMultipartUpload" python3 -c "
import json; s=json.load(open('$T/complete.stats')); assert s['error'] >= 1, s"
ok "catalog list after the failed commit" catalog $C list --json
cp "$_out" "$T/list4.json"
check "still the same two complete backups" python3 -c "
import json; rows=json.load(open('$T/list4.json')); assert len(rows)==2 and all(r['status']=='complete' for r in rows), rows"
check "no multipart upload is left open" test "$(open_uploads)" -eq 0
