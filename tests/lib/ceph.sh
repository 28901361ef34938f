# ceph.sh - a throwaway Ceph RADOS Gateway for tests: one monitor, one memstore OSD and
# radosgw, everything under one directory, daemons stopped by PID. Sourced by tests, or run:
#
#   tests/lib/ceph.sh start DIR    prints S3_ENDPOINT=... S3_ACCESS_KEY=... S3_SECRET_KEY=...
#   tests/lib/ceph.sh stop DIR
#
# Sourced: `ceph_start DIR` sets S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION and
# registers nothing; the caller adds `on_exit "ceph_stop DIR"` first. Auth between the
# daemons is off (loopback only); the gateway checks S3 signatures for real.
# CEPH_MEMSTORE_BYTES caps the OSD's memory store (default 1 GiB). CEPH_EXTRA_CONF holds
# extra ceph.conf lines appended to [global] (for example `rgw s3 auth use sts = true`);
# a key given there again overrides the default above for that test only.

_ceph_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ceph_start DIR - start the cluster under DIR (created); returns 1 with a message on failure
ceph_start() {
    local d=$1 fsid mon_port rgw_port i
    mkdir -p "$d/mon.a" "$d/osd.0" "$d/run" "$d/log"
    fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    mon_port=$(_ceph_free_port)
    rgw_port=$(_ceph_free_port)
    cat >"$d/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public network = 127.0.0.1/32
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
client mount timeout = 30
rgw init timeout = 60
run dir = $d/run
admin socket = $d/run/\$name.asok
log file = $d/log/\$name.log
pid file = $d/run/\$name.pid
keyring = $d/keyring
mon data = $d/mon.\$id
osd data = $d/osd.\$id
paxos propose interval = 0.01
paxos min wait = 0.01
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd objectstore = memstore
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-1073741824}
osd crush chooseleaf type = 0
mon max pg per osd = 1000
debug ms = 0
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw data = $d/rgw
rgw enable usage log = false
rgw dns name = localhost
${CEPH_EXTRA_CONF:-}
EOF
    chmod 600 "$d/ceph.conf"   # CEPH_EXTRA_CONF may hold a secret (rgw sts key)
    export CEPH_CONF=$d/ceph.conf
    echo "$rgw_port" >"$d/rgw.port"
    {
        ceph-authtool --create-keyring "$d/keyring" --gen-key -n mon. --cap mon 'allow *' &&
        ceph-authtool "$d/keyring" --gen-key -n client.admin --cap mon 'allow *' \
            --cap osd 'allow *' --cap mgr 'allow *' &&
        ceph-authtool "$d/keyring" --gen-key -n osd.0 --cap mon 'allow profile osd' \
            --cap osd 'allow *' &&
        ceph-authtool "$d/keyring" --gen-key -n client.rgw --cap mon 'allow rw' --cap osd 'allow rwx'
    } >"$d/log/setup.log" 2>&1 || { echo "ceph.sh: keyring failed" >&2; return 1; }
    chmod 600 "$d/keyring"
    monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$d/monmap" \
        >>"$d/log/setup.log" 2>&1 || { echo "ceph.sh: monmaptool failed" >&2; return 1; }
    ceph-mon -c "$d/ceph.conf" --mkfs -i a --monmap "$d/monmap" --keyring "$d/keyring" \
        >>"$d/log/setup.log" 2>&1 \
        || { echo "ceph.sh: ceph-mon --mkfs failed (see $d/log)" >&2; return 1; }
    ceph-mon -c "$d/ceph.conf" -i a >>"$d/log/setup.log" 2>&1 \
        || { echo "ceph.sh: ceph-mon failed to start" >&2; return 1; }
    local uuid
    uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
    timeout 30 ceph -c "$d/ceph.conf" osd new "$uuid" >>"$d/log/setup.log" 2>&1 \
        || { echo "ceph.sh: osd new failed (monitor not answering?)" >&2; return 1; }
    ceph-osd -c "$d/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" --no-mon-config \
        >>"$d/log/setup.log" 2>&1 || { echo "ceph.sh: ceph-osd --mkfs failed" >&2; return 1; }
    ceph-osd -c "$d/ceph.conf" -i 0 >>"$d/log/setup.log" 2>&1 \
        || { echo "ceph.sh: ceph-osd failed to start" >&2; return 1; }
    for i in $(seq 1 300); do
        ceph -c "$d/ceph.conf" osd dump 2>/dev/null | grep -q '^osd.0 up' && break
        sleep 0.1
    done
    ceph -c "$d/ceph.conf" osd dump 2>/dev/null | grep -q '^osd.0 up' \
        || { echo "ceph.sh: osd.0 never came up (see $d/log)" >&2; return 1; }
    _ceph_rgw_run "$d" || return 1
    radosgw-admin -c "$d/ceph.conf" -n client.admin user create --uid=coffer \
        --display-name=coffer >"$d/user.json" 2>>"$d/log/setup.log" \
        || { echo "ceph.sh: radosgw-admin user create failed" >&2; return 1; }
    S3_ENDPOINT=http://127.0.0.1:$rgw_port
    S3_REGION=us-east-1
    S3_ACCESS_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0]["access_key"])' "$d/user.json")
    S3_SECRET_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0]["secret_key"])' "$d/user.json")
    chmod 600 "$d/user.json"
    export S3_ENDPOINT S3_REGION S3_ACCESS_KEY S3_SECRET_KEY
}

# _ceph_rgw_run DIR [VAR=VALUE...] - start radosgw (with VAR=VALUE in its environment) and
# wait until it answers on its port
_ceph_rgw_run() {
    local d=$1 port i; shift
    port=$(cat "$d/rgw.port")
    timeout 90 env "$@" radosgw -c "$d/ceph.conf" -n client.rgw >>"$d/log/setup.log" 2>&1 \
        || { echo "ceph.sh: radosgw failed to start" >&2; return 1; }
    for i in $(seq 1 600); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.1
    done
    curl -s -o /dev/null "http://127.0.0.1:$port/" \
        || { echo "ceph.sh: radosgw never answered on port $port (see $d/log)" >&2; return 1; }
}

# ceph_rgw_restart DIR [VAR=VALUE...] - stop the gateway by its PID and start it again on the
# same port, with VAR=VALUE in its environment (for example libfaketime's LD_PRELOAD and
# FAKETIME to move its clock); the monitor, the OSD and the stored data stay
ceph_rgw_restart() {
    local d=$1 pid i; shift
    pid=$(cat "$d/run/client.rgw.pid" 2>/dev/null) || { echo "ceph.sh: no radosgw pid" >&2; return 1; }
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    _ceph_rgw_run "$d" "$@"
}

# ceph_stop DIR - stop the daemons by their PID files (radosgw needs ~3 s), then remove DIR
ceph_stop() {
    local d=$1 f pid pids="" i
    for f in "$d"/run/client.rgw.pid "$d"/run/osd.0.pid "$d"/run/mon.a.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null && pids="$pids $pid"
    done
    for i in $(seq 1 100); do
        local alive=""
        for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
    rm -rf "$d"
}

# _ceph_signed SERVICE CURL-ARGS... - curl signing with SigV4 for SERVICE (s3, sts, iam) as
# the test user (credentials on stdin, never on the command line)
_ceph_signed() {
    local service=$1; shift
    printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" |
        curl -s -K - --aws-sigv4 "aws:amz:$S3_REGION:$service" "$@"
}

# s3_curl CURL-ARGS... - an S3 request as the test user, failing on an HTTP error; the body
# is sent unsigned (UNSIGNED-PAYLOAD)
s3_curl() {
    _ceph_signed s3 -f -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# ceph_sts_conf - ceph.conf lines that turn on the gateway's STS API, for CEPH_EXTRA_CONF:
#   CEPH_EXTRA_CONF=$(ceph_sts_conf) ceph_start DIR
# The STS key (16 characters, AES-128) encrypts the session tokens; a fresh one each time.
ceph_sts_conf() {
    printf 'rgw s3 auth use sts = true\nrgw sts key = %s\n' \
        "$(tr -dc 'a-zA-Z0-9' </dev/urandom | head -c 16)"
}

# ceph_session_creds OUTDIR [SECONDS] - temporary credentials for the test user from STS
# GetSessionToken (the gateway must run with ceph_sts_conf), signed with the user's long-term
# keys: writes OUTDIR/session.id, session.secret, session.token (mode 0600, no newline) and
# session.expiration (ISO 8601). SECONDS: 900 (the gateway's minimum) to 43200, default 900.
# The first call lets the user call GetSessionToken (a user policy, which needs the
# user-policy capability). Returns 1 with the server's answer on stderr on failure.
ceph_session_creds() {
    local out=$1 secs=${2:-900} d=${CEPH_CONF%/ceph.conf}
    if [ ! -f "$d/sts-policy.done" ]; then
        radosgw-admin -c "$CEPH_CONF" -n client.admin caps add --uid=coffer \
            --caps="user-policy=*" >>"$d/log/setup.log" 2>&1 \
            || { echo "ceph.sh: radosgw-admin caps add failed" >&2; return 1; }
        _ceph_signed iam -f -o /dev/null -X POST --data-urlencode Action=PutUserPolicy \
            --data-urlencode UserName=coffer --data-urlencode PolicyName=coffer-sts \
            --data-urlencode 'PolicyDocument={"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:GetSessionToken"],"Resource":"*"}]}' \
            "$S3_ENDPOINT/" || { echo "ceph.sh: PutUserPolicy failed" >&2; return 1; }
        : >"$d/sts-policy.done"
    fi
    mkdir -p "$out"
    _ceph_signed sts -X POST -w '\n%{http_code}' \
        --data "Action=GetSessionToken&DurationSeconds=$secs&Version=2011-06-15" "$S3_ENDPOINT/" |
        python3 -c '
import os, re, sys
body = sys.stdin.read()
status = body.rsplit("\n", 1)[-1]
def get(tag):
    m = re.search("<%s>([^<]+)</%s>" % (tag, tag), body)
    return m.group(1) if m else None
names = {"AccessKeyId": "session.id", "SecretAccessKey": "session.secret",
         "SessionToken": "session.token", "Expiration": "session.expiration"}
vals = {t: get(t) for t in names}
if status != "200" or None in vals.values():
    code = get("Code") or "no credentials in the answer"
    sys.exit("ceph.sh: GetSessionToken failed: http %s %s" % (status, code))
for tag, name in names.items():
    fd = os.open(os.path.join(sys.argv[1], name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    os.write(fd, vals[tag].encode())
    os.close(fd)
' "$out"
}

# ceph_bucket NAME - create a bucket
ceph_bucket() {
    s3_curl -X PUT "$S3_ENDPOINT/$1" >/dev/null
}

# ceph_bucket_quota NAME MAX-SIZE - create a bucket that holds at most MAX-SIZE (1M, say):
# writes beyond it get 403 QuotaExceeded, the object store's counterpart of a full disk
ceph_bucket_quota() {
    ceph_bucket "$1" &&
        radosgw-admin -c "$CEPH_CONF" -n client.admin quota set --quota-scope=bucket \
            --bucket="$1" --max-size="$2" >/dev/null &&
        radosgw-admin -c "$CEPH_CONF" -n client.admin quota enable --quota-scope=bucket \
            --bucket="$1" >/dev/null
}

# s3_open_uploads BUCKET - how many multipart uploads are open in BUCKET ("error" when the
# listing fails, so that a test comparing with 0 cannot pass by accident)
s3_open_uploads() {
    local x
    x=$(s3_curl "$S3_ENDPOINT/$1?uploads=") || { echo error; return 1; }
    grep -o '<Upload>' <<<"$x" | wc -l
}

# s3_proxy_start NAME [s3_fault_proxy.py options...] - start the fault proxy in front of
# $S3_ENDPOINT (stats in $T/NAME.stats), stopped at exit; sets PROXY_PID and PROXY_PORT
s3_proxy_start() {
    local name=$1 i; shift
    rm -f "$T/$name.port"
    python3 "$(dirname "${BASH_SOURCE[0]}")/s3_fault_proxy.py" --upstream "${S3_ENDPOINT#*://}" \
        --port-file "$T/$name.port" --stats-file "$T/$name.stats" "$@" &
    PROXY_PID=$!
    on_exit "kill $PROXY_PID"
    for i in $(seq 1 50); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
    PROXY_PORT=$(cat "$T/$name.port")
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    start) ceph_start "$2" || exit 1
           echo "S3_ENDPOINT=$S3_ENDPOINT"; echo "S3_REGION=$S3_REGION"
           echo "S3_ACCESS_KEY=$S3_ACCESS_KEY"; echo "S3_SECRET_KEY=$S3_SECRET_KEY" ;;
    stop) ceph_stop "$2" ;;
    *) echo "usage: ceph.sh start|stop DIR" >&2; exit 2 ;;
    esac
fi
