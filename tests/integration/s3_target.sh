#!/usr/bin/env bash
# The S3 target driver against a real Ceph RADOS Gateway (it checks SigV4 signatures and
# payload hashes): round trips with a prefix, multipart of more than 3 parts, abort leaving
# no object and no upload, NOREPLACE, listing across pages, wrong secret, missing bucket,
# server down, a key that DeleteObjects refuses (bucket policy); the round trips in
# virtual-hosted style; then again behind a proxy that drops connections, answers 500/503,
# stalls and cuts answers.
source "$COFFER_TESTS/lib/testlib.sh"
source "$COFFER_TESTS/lib/ceph.sh"
unit=${COFFER_UNIT:-$COFFER_TESTS/../build/tests}/test_tgt_s3

on_exit "ceph_stop '$T/ceph'"
ceph_start "$T/ceph" || { echo "not ok - the Ceph gateway starts"; exit 1; }
echo "ok - the Ceph gateway starts"
ok "a bucket is created" ceph_bucket coffer-t
export S3_BUCKET=coffer-t

# list the multipart uploads still open in the bucket (none after aborts and commits)
open_uploads() {
    s3_curl "$S3_ENDPOINT/$S3_BUCKET?uploads=" | grep -o '<Upload>' | wc -l
}

# a bucket policy that refuses deletes under denied/: DeleteObjects must report such a key
cat >"$T/policy.json" <<EOF
{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["*"]},
 "Action":["s3:DeleteObject"],"Resource":["arn:aws:s3:::$S3_BUCKET/denied/*"]}]}
EOF
ok "a bucket policy refusing deletes under denied/" s3_curl -X PUT --data-binary @"$T/policy.json" "$S3_ENDPOINT/$S3_BUCKET?policy="
S3_DENY_DELETE=1 "$unit" 2>"$T/unit.err"
check "no multipart upload is left open on the server" test "$(open_uploads)" -eq 0
check "no credential appears in the driver's messages" bash -c "! grep -qF -- '$S3_SECRET_KEY' '$T/unit.err'"

# virtual-hosted style: the gateway's dns name is localhost, and curl resolves *.localhost
S3_ENDPOINT=http://localhost:${S3_ENDPOINT##*:} S3_FAULTS=1 S3_EXTRA_CONF="uri-style = host
" "$unit" 2>"$T/host.err" | sed 's/^ok - /ok - host style: /; s/^not ok - /not ok - host style: /'

s3_proxy_start proxy --drop 0.08 --error 0.1 --stall 0.04 --stall-seconds 2.5 --cut 0.06 --seed 7
S3_ENDPOINT=http://127.0.0.1:$PROXY_PORT S3_FAULTS=1 S3_EXTRA_CONF="timeout = 2
" "$unit" 2>"$T/faults.err" | sed 's/^ok - /ok - through faults: /; s/^not ok - /not ok - through faults: /'
check "the proxy injected every kind of fault" python3 -c "
import json; s=json.load(open('$T/proxy.stats'))
assert all(s[k] > 0 for k in ('drop','error','stall','cut')), s"
check "the driver logged its retries" grep -q "s3 retry attempt=" "$T/faults.err"
