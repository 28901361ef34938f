#!/usr/bin/env bash
# Temporary credentials (access key, secret and session token from STS GetSessionToken) on a
# real Ceph RADOS Gateway with its STS API on: backup (multipart), catalog verify and restore
# with the three from 0600 files (session-token-file) and from the environment
# (AWS_SESSION_TOKEN); the temporary key without its token, with another session's token, with
# a damaged token, and long-term keys with a stray AWS_SESSION_TOKEN each fail with an
# authentication error and a hint, leaving no backup; a token file readable by others or empty
# is a configuration error; an expired token (the gateway's clock moved on with libfaketime)
# fails the same way and new credentials work again. The token and the secrets never appear in
# any output, also with --verbose.
source "$COFFER_TESTS/lib/testlib.sh"
source "$COFFER_TESTS/lib/ceph.sh"

on_exit "ceph_stop '$T/ceph'"
CEPH_EXTRA_CONF=$(ceph_sts_conf) ceph_start "$T/ceph" || { echo "not ok - the Ceph gateway starts"; exit 1; }
echo "ok - the Ceph gateway starts with STS on"
ok "a bucket is created" ceph_bucket coffer-s
ok "the gateway issues temporary credentials (GetSessionToken, 900 s)" ceph_session_creds "$T/sts" 900
S=$T/sts
check "the temporary access key is not the long-term one" test "$(cat "$S/session.id")" != "$S3_ACCESS_KEY"
check "the credential files are mode 0600" test "$(stat -c %a "$S/session.id" "$S/session.secret" "$S/session.token" | sort -u)" = 600

mkdir -p "$T/c" "$T/src/sub"
head -c 32 /dev/urandom >"$T/c/repo.key"
chmod 600 "$T/c/repo.key"
head -c $((12 << 20)) /dev/urandom >"$T/src/rand.bin"   # 3 parts of 5 MiB: UploadPart carries the token
for i in $(seq 1 2000); do echo "line $i"; done >"$T/src/sub/text.txt"

# s3_conf FILE [credential lines]: the repository on the gateway; without credential lines
# the keys come from the environment
s3_conf() {
    cat >"$1" <<CONF
[repository]
target = s3
endpoint = $S3_ENDPOINT
bucket = coffer-s
prefix = repo1
region = $S3_REGION
part-size = 5MiB
retries = 1
key-file = $T/c/repo.key
${2:-}

[source media]
type = volume
path = $T/src

[job nightly]
sources = media

[catalog]
path = $T/c/catalog.db
CONF
}
# creds DIR [TOKEN-FILE]: credential lines for the key files in DIR and a token file
creds() {
    printf 'access-key-id-file = %s\nsecret-access-key-file = %s\n' "$1/session.id" "$1/session.secret"
    [ -z "${2:-}" ] || printf 'session-token-file = %s\n' "$2"
}
# keep every output of the tools, to look for secrets in it at the end
keep() { cat "$_out" "$_err" >>"$T/all-output"; }
backups() { catalog --config "$T/c/files.conf" list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

s3_conf "$T/c/files.conf" "$(creds "$S" "$S/session.token")"
ok "init with the session token from session-token-file" backupd --config "$T/c/files.conf" --verbose init
keep
ok "backup with the session token from session-token-file (--verbose)" backupd --config "$T/c/files.conf" --verbose run nightly
keep
check "the backup's object went up as a multipart upload" grep -q "s3 multipart upload started" "$_err"
ok "catalog verify with the session token" catalog --config "$T/c/files.conf" --verbose verify --all
keep
check "verify says ok" grep -q "1 backups verified, 0 damaged" "$_out"
ok "restore with the session token" restore --config "$T/c/files.conf" --verbose --source media --at latest --to "$T/out1"
keep
ok "the restored tree equals the source" diff -r --no-dereference "$T/src" "$T/out1"

# the same three from the environment (exported in a subshell: never on a command line)
with_env() {
    (
        export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
        AWS_ACCESS_KEY_ID=$(cat "$S/session.id")
        AWS_SECRET_ACCESS_KEY=$(cat "$S/session.secret")
        AWS_SESSION_TOKEN=$(cat "$S/session.token")
        [ -z "${ENV_LONG_TERM:-}" ] || { AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY; AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY; }
        [ -z "${ENV_NO_TOKEN:-}" ] || unset AWS_SESSION_TOKEN
        "$@"
    )
}
s3_conf "$T/c/env.conf"
ok "backup with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (--verbose)" with_env backupd --config "$T/c/env.conf" --verbose run nightly
keep
ok "catalog verify with the environment's session token" with_env catalog --config "$T/c/env.conf" --verbose verify --all
keep
check "verify says 2 ok" grep -q "2 backups verified, 0 damaged" "$_out"
ok "restore with the environment's session token" with_env restore --config "$T/c/env.conf" --verbose --source media --at latest --to "$T/out2"
keep
ok "the restored tree equals the source" diff -r --no-dereference "$T/src" "$T/out2"

# refused credentials: an authentication error (exit 1) with a hint, and no backup written
# refused WHAT NEEDLE HINT cmd...: cmd exits 1 with NEEDLE and HINT on stderr
refused() {
    local what=$1 needle=$2 hint=$3; shift 3
    fails "$what" 1 "$needle" "$@"
    keep
    check "with the hint" grep -qF "$hint" "$_err"
}
NO_TOKEN_HINT="temporary credentials also need their session token (session-token-file or AWS_SESSION_TOKEN)"
TOKEN_HINT="HINT: the session token has expired, is damaged or belongs to another access key"
s3_conf "$T/c/notoken.conf" "$(creds "$S")"
refused "the temporary key without its token is refused" "access denied (http 403 AccessDenied)" \
    "$NO_TOKEN_HINT" backupd --config "$T/c/notoken.conf" run nightly
ENV_NO_TOKEN=1 refused "the temporary key without AWS_SESSION_TOKEN is refused" "http 403 AccessDenied" \
    "$NO_TOKEN_HINT" with_env backupd --config "$T/c/env.conf" run nightly
ok "a second session's credentials" ceph_session_creds "$T/sts2" 900
s3_conf "$T/c/foreign.conf" "$(creds "$S" "$T/sts2/session.token")"
refused "the temporary key with another session's token is refused" "http 403 AccessDenied" \
    "$TOKEN_HINT" backupd --config "$T/c/foreign.conf" run nightly
# one character of the token changed: the gateway decrypts it but cannot decode it
python3 - "$S/session.token" "$T/c/damaged.token" <<'PY'
import os, sys
t = open(sys.argv[1]).read()
i = len(t) // 2
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, (t[:i] + ("B" if t[i] == "A" else "A") + t[i + 1:]).encode())
PY
s3_conf "$T/c/damaged.conf" "$(creds "$S" "$T/c/damaged.token")"
refused "a damaged token is an authentication error (the gateway says 400 InvalidArgument)" \
    "access denied (http 400 InvalidArgument)" "$TOKEN_HINT" backupd --config "$T/c/damaged.conf" run nightly
ENV_LONG_TERM=1 refused "long-term keys with a stray AWS_SESSION_TOKEN are refused" "http 403 AccessDenied" \
    "$TOKEN_HINT" with_env backupd --config "$T/c/env.conf" run nightly
check "the refused runs wrote no backup" test "$(backups)" -eq 2

# a token file others can read, or an empty one: a configuration error naming the line
cp "$S/session.token" "$T/c/open.token"; chmod 644 "$T/c/open.token"
s3_conf "$T/c/open.conf" "$(creds "$S" "$T/c/open.token")"
fails "a session-token-file readable by others is refused" 2 "is readable by group or others" backupd --config "$T/c/open.conf" check-config
check "naming the file and line" grep -q "open.conf:[0-9]*" "$_err"
install -m 600 /dev/null "$T/c/empty.token"
s3_conf "$T/c/empty.conf" "$(creds "$S" "$T/c/empty.token")"
fails "an empty session-token-file is refused" 2 "is empty" backupd --config "$T/c/empty.conf" check-config

# expiry: move the gateway's clock 16 minutes on (past the token's 900 s); coffer's clock moves
# the same, else the gateway refuses the request as RequestTimeTooSkewed first
ft=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 | head -n 1)
later() { LD_PRELOAD=$ft FAKETIME=+16m FAKETIME_DONT_FAKE_MONOTONIC=1 "$@"; }
ok "the gateway restarts 16 minutes in the future" ceph_rgw_restart "$T/ceph" LD_PRELOAD="$ft" FAKETIME=+16m FAKETIME_DONT_FAKE_MONOTONIC=1
refused "an expired session token is refused" "http 403 AccessDenied" "$TOKEN_HINT" \
    later backupd --config "$T/c/files.conf" run nightly
check "the gateway logged the token as expired" grep -q "ERROR: Token expired" "$T/ceph/log/client.rgw.log"
ok "new temporary credentials" later ceph_session_creds "$T/sts3" 900
s3_conf "$T/c/renewed.conf" "$(creds "$T/sts3" "$T/sts3/session.token")"
ok "with them a backup runs again" later backupd --config "$T/c/renewed.conf" --verbose run nightly
keep
ok "and verifies" later catalog --config "$T/c/renewed.conf" --verbose verify --all
keep
check "verify says 3 ok" grep -q "3 backups verified, 0 damaged" "$_out"

# no secret in any output, nor in the catalog index
for f in "$S" "$T/sts2" "$T/sts3"; do cat "$f/session.token"; echo; done >"$T/tokens"
for f in "$S" "$T/sts2" "$T/sts3"; do cat "$f/session.secret"; echo; done >"$T/secrets"
chmod 600 "$T/tokens" "$T/secrets"
check "no session token in any output (--verbose included)" bash -c "! grep -qF -f '$T/tokens' '$T/all-output'"
check "no secret key in any output" bash -c "! grep -qF -f '$T/secrets' '$T/all-output'"
check "the catalog index holds no session token" bash -c "! grep -qaF -f '$T/tokens' '$T/c/catalog.db'"
check "the outputs were collected" test -s "$T/all-output"
