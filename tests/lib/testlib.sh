# testlib.sh - sourced by integration tests. Gives a private work directory $T, cleanup on
# exit (also on failure), and assertions that print TAP-style lines.
#
#   ok   "what"  cmd args...              passes when cmd exits 0
#   fails "what" CODE "needle" cmd...     passes when cmd exits CODE and its stderr has needle
#   check "what" cmd...                   like ok, for conditions (test, cmp, grep -q)
#   on_exit "shell code"                  run at exit, last registered first
set -u
: "${COFFER_BIN:?run through tests/run.sh or make check}"
export PATH="$COFFER_BIN:$PATH"
T=$(mktemp -d /tmp/coffer-t.XXXXXX)
chmod 755 "$T"
_exit_hooks=()
on_exit() { _exit_hooks=("$1" "${_exit_hooks[@]}"); }
_run_exit_hooks() {
    local h
    for h in "${_exit_hooks[@]}"; do eval "$h" >/dev/null 2>&1 || true; done
    rm -rf "$T"
}
trap _run_exit_hooks EXIT
trap 'exit 130' INT TERM

_out="$T/.out" _err="$T/.err"
# _assert WHAT OUT ERR cmd...: run cmd with its output in OUT and ERR, print ok / not ok
_assert() {
    local what=$1 out=$2 err=$3; shift 3
    if "$@" >"$out" 2>"$err"; then
        echo "ok - $what"
    else
        echo "not ok - $what (exit $?)"
        echo "#   command: $*"
        sed 's/^/#   stderr: /' "$err" | tail -n 20
        sed 's/^/#   stdout: /' "$out" | tail -n 10
    fi
}
# ok: run a command under test; its output stays in $_out / $_err for the checks after it
ok() { local what=$1; shift; _assert "$what" "$_out" "$_err" "$@"; }
# check: a condition (test, grep, diff...); leaves $_out / $_err alone
check() { local what=$1; shift; _assert "$what" "$T/.chk-out" "$T/.chk-err" "$@"; }
fails() {
    local what=$1 code=$2 needle=$3; shift 3
    "$@" >"$_out" 2>"$_err"
    local rc=$?
    if [ "$rc" -eq "$code" ] && { [ -z "$needle" ] || grep -qF -- "$needle" "$_err"; }; then
        echo "ok - $what"
    else
        echo "not ok - $what (exit $rc, wanted $code with '$needle' on stderr)"
        echo "#   command: $*"
        sed 's/^/#   stderr: /' "$_err" | tail -n 20
    fi
}
# last command's output, for follow-up checks
last_out() { cat "$_out"; }
last_err() { cat "$_err"; }

# --- the repository target ------------------------------------------------------------------
# COFFER_TEST_TARGET=local (default) or s3 chooses where make_conf and repo_section put the
# repository. For s3 the gateway comes from the environment (S3_ENDPOINT, S3_REGION,
# S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET: tests/run.sh starts one for all @s3 runs); without
# S3_ENDPOINT the test starts its own under $T. The repository of DIR (the directory given to
# make_conf) lives under its own prefix, <name of $T>/<DIR below $T>/, emptied at exit.
# What a test does to repository objects, on either target:
#   repo_keys DIR [PREFIX]    committed object keys (relative to the repository), sorted
#   repo_backups DIR SOURCE   ids of the backups of SOURCE that have objects, sorted
#   repo_get DIR KEY FILE     copy an object into FILE
#   repo_put DIR KEY FILE     replace (or create) an object with FILE's bytes
#   repo_rm DIR KEY           delete an object
#   repo_dump DIR FILE        every object's bytes, one after the other, into FILE
#   repo_none DIR PREFIX      true when no object's key starts with PREFIX (and listing works)
# A check that means something on one target only:
#   only_on TARGET REASON ASSERTION WHAT ARGS...   the assertion on TARGET, elsewhere a skip
#   skip REASON WHAT...                            "ok - WHAT # SKIP REASON" for each (TAP)
COFFER_TEST_TARGET=${COFFER_TEST_TARGET:-local}
case $COFFER_TEST_TARGET in
local) ;;
s3)
    source "$COFFER_TESTS/lib/ceph.sh"
    if [ -z "${S3_ENDPOINT:-}" ]; then
        on_exit "ceph_stop '$T/ceph'"
        ceph_start "$T/ceph" || { echo "not ok - the Ceph gateway for COFFER_TEST_TARGET=s3 starts"; exit 1; }
        export S3_BUCKET=coffer-tests
        ceph_bucket "$S3_BUCKET" || { echo "not ok - the bucket $S3_BUCKET is created"; exit 1; }
    fi
    if [ -z "${S3_BUCKET:-}" ] || [ -z "${S3_REGION:-}" ] || [ -z "${S3_ACCESS_KEY:-}" ] || [ -z "${S3_SECRET_KEY:-}" ]; then
        echo "not ok - S3_ENDPOINT is set but S3_BUCKET, S3_REGION, S3_ACCESS_KEY or S3_SECRET_KEY is not"
        exit 1
    fi
    on_exit "_s3_purge '${T##*/}/'"
    ;;
*) echo "not ok - COFFER_TEST_TARGET='$COFFER_TEST_TARGET' is neither local nor s3"; exit 1 ;;
esac

skip() {
    local reason=$1 w; shift
    for w in "$@"; do echo "ok - $w # SKIP $reason"; done
}
only_on() {
    local target=$1 reason=$2; shift 2
    if [ "$COFFER_TEST_TARGET" = "$target" ]; then "$@"; else skip "$reason" "$2"; fi
}

# repo_section DIR - the [repository] lines (key options aside) of DIR's repository on the
# current target; for s3 it also writes the credentials to DIR/s3.id and DIR/s3.secret (0600)
repo_section() {
    local d=$1
    mkdir -p "$d"
    if [ "$COFFER_TEST_TARGET" = local ]; then
        echo "path = $d/repo"     # and target = local, the default
        return
    fi
    (umask 077; printf '%s' "$S3_ACCESS_KEY" >"$d/s3.id"; printf '%s\n' "$S3_SECRET_KEY" >"$d/s3.secret")
    cat <<CONF
target = s3
endpoint = $S3_ENDPOINT
bucket = $S3_BUCKET
prefix = $(_repo_prefix "$d")
region = $S3_REGION
uri-style = path
access-key-id-file = $d/s3.id
secret-access-key-file = $d/s3.secret
part-size = 5MiB
CONF
}

# a private key file and a minimal configuration for a repository on the current target
make_conf() {  # make_conf DIR SOURCE_PATH -> writes DIR/coffer.conf, DIR/repo.key
    local d=$1 src=$2
    mkdir -p "$d"
    head -c 32 /dev/urandom >"$d/repo.key"
    chmod 600 "$d/repo.key"
    cat >"$d/coffer.conf" <<CONF
[repository]
$(repo_section "$d")
key-file = $d/repo.key
object-size = ${OBJECT_SIZE:-64MiB}

[source media]
type = volume
path = $src

[job nightly]
sources = media

[catalog]
path = $d/catalog.db
CONF
}
# fake_clock SPEC CMD...: CMD on libfaketime's clock, FAKETIME=SPEC ("@2026-11-01 03:00:00"
# starts there and runs on, "+2h" is an offset). The library is preloaded directly: the
# faketime wrapper names a semaphore and shared memory in /dev/shm after its pid, leaves them
# behind, and fails ("sem_open: File exists") when a later run gets the same pid
fake_clock() {
    local spec=$1 lib
    shift
    lib=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
    [ -n "$lib" ] || { echo "fake_clock: libfaketime is not installed" >&2; return 1; }
    LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" FAKETIME="$spec" "$@"
}

# the same with a local repository whatever the target
make_local_conf() { COFFER_TEST_TARGET=local make_conf "$@"; }

_repo_prefix() { echo "${T##*/}/${1#"$T"/}/"; }
# _s3_enc STRING - RFC 3986 percent-encoding, '/' included (as SigV4 wants query values)
_s3_enc() {
    local LC_ALL=C s=$1 out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [A-Za-z0-9._~-]) out+=$c ;;
        *) printf -v c '%%%02X' "'$c"; out+=$c ;;
        esac
    done
    printf '%s' "$out"
}
# _s3_url FULL-KEY - the object's URL
_s3_url() { local k; k=$(_s3_enc "$1"); echo "$S3_ENDPOINT/$S3_BUCKET/${k//%2F//}"; }
# _s3_list FULL-PREFIX - every key under FULL-PREFIX, one per line (ListObjectsV2, all pages)
_s3_list() {
    local token="" q line
    while :; do
        q="list-type=2&prefix=$(_s3_enc "$1")"
        [ -n "$token" ] && q="continuation-token=$(_s3_enc "$token")&$q"
        token=""
        while IFS= read -r line; do
            case $line in
            K*) printf '%s\n' "${line#K}" ;;
            T*) token=${line#T} ;;
            E*) echo "testlib: listing '$1' failed" >&2; return 1 ;;
            esac
        done < <({ s3_curl "$S3_ENDPOINT/$S3_BUCKET?$q" || echo "<bad/>"; } | python3 -c '
import sys, xml.etree.ElementTree as ET
try:
    r = ET.fromstring(sys.stdin.buffer.read())
except ET.ParseError:
    r = None
if r is None or not r.tag.endswith("ListBucketResult"):
    print("E"); sys.exit()
ns = r.tag[:r.tag.index("}") + 1] if r.tag.startswith("{") else ""
for c in r.iter(ns + "Contents"):
    print("K" + c.findtext(ns + "Key"))
if r.findtext(ns + "IsTruncated") == "true":
    print("T" + r.findtext(ns + "NextContinuationToken"))')
        [ -z "$token" ] && return 0
    done
}
# _s3_purge FULL-PREFIX - delete every object under FULL-PREFIX (DeleteObjects, 1000 a time)
_s3_purge() {
    local body=$T/.purge md5
    _s3_list "$1" >"$body.keys" || return 1
    while [ -s "$body.keys" ]; do
        md5=$(head -n 1000 "$body.keys" | python3 -c '
import sys, base64, hashlib
from xml.sax.saxutils import escape
b = "<Delete><Quiet>true</Quiet>" + "".join(
    "<Object><Key>%s</Key></Object>" % escape(k.rstrip("\n")) for k in sys.stdin) + "</Delete>"
open(sys.argv[1], "wb").write(b.encode())
print(base64.b64encode(hashlib.md5(b.encode()).digest()).decode())' "$body") || return 1
        s3_curl -o /dev/null -X POST -H "Content-MD5: $md5" -H "Content-Type: application/xml" \
            --data-binary "@$body" "$S3_ENDPOINT/$S3_BUCKET?delete=" || return 1
        sed -i 1,1000d "$body.keys"
    done
    rm -f "$body" "$body.keys"
}

repo_keys() {  # repo_keys DIR [PREFIX]
    local d=$1 p=${2:-}
    if [ "$COFFER_TEST_TARGET" = local ]; then
        [ -d "$d/repo" ] || return 0
        # as the local target lists: regular files, not its temporary "<key>.tmp-XXXXXX"
        (cd "$d/repo" && find . -type f ! -name '*.tmp-*' -printf '%P\n') |
            awk -v p="$p" 'index($0, p) == 1' | LC_ALL=C sort
    else
        local fp
        fp=$(_repo_prefix "$d")
        _s3_list "$fp$p" | cut -c$((${#fp} + 1))- | LC_ALL=C sort
        return "${PIPESTATUS[0]}"
    fi
}
repo_none() {  # repo_none DIR PREFIX: no object under PREFIX (false when listing fails)
    local k
    k=$(repo_keys "$1" "$2") || return 1
    [ -z "$k" ] || { printf 'left behind: %s\n' $k >&2; return 1; }
}
repo_backups() {  # repo_backups DIR SOURCE
    repo_keys "$1" "backups/$2/" | cut -d/ -f3 | uniq
}
repo_get() {  # repo_get DIR KEY FILE
    if [ "$COFFER_TEST_TARGET" = local ]; then
        cp -- "$1/repo/$2" "$3"
    else
        s3_curl -o "$3" "$(_s3_url "$(_repo_prefix "$1")$2")"
    fi
}
repo_put() {  # repo_put DIR KEY FILE
    if [ "$COFFER_TEST_TARGET" = local ]; then
        # in place: a file keeps its mode, a new one is private like the target's
        (umask 077 && mkdir -p "$(dirname "$1/repo/$2")" && cat -- "$3" >"$1/repo/$2")
    else
        s3_curl -o /dev/null -T "$3" "$(_s3_url "$(_repo_prefix "$1")$2")"
    fi
}
repo_rm() {  # repo_rm DIR KEY
    if [ "$COFFER_TEST_TARGET" = local ]; then
        rm -- "$1/repo/$2"
    else
        s3_curl -o /dev/null -X DELETE "$(_s3_url "$(_repo_prefix "$1")$2")"
    fi
}
repo_dump() {  # repo_dump DIR FILE
    local d=$1 out=$2 k keys
    keys=$(repo_keys "$d") || return 1
    : >"$out"
    while IFS= read -r k; do
        [ -n "$k" ] || continue
        repo_get "$d" "$k" "$out.part" && cat "$out.part" >>"$out" || return 1
    done <<<"$keys"
    rm -f "$out.part"
}

# tree_fingerprint DIR - one line per entry: type, mode, owner, size, mtime (s), link target,
# content hash; then hard-link groups, xattrs and ACLs. Two trees are the same when their
# fingerprints are. The root's own mtime is left out (extraction touches it last).
tree_fingerprint() {
    (
        cd "$1" || exit 1
        export LC_ALL=C
        find . -mindepth 1 -printf '%p\t%y %m %u:%g %s %T@ %l\n' |
            awk -F'\t' '{ split($2, f, " "); t = int(f[5]);
                          if (f[1] == "d") f[4] = "-"; if (f[1] == "l") t = "-";
                          print $1, f[1], f[2], f[3], f[4], t, f[6] }' | sort
        echo "## contents"
        find . -type f -print0 | xargs -0 -r sha256sum | sort -k2
        echo "## hard links"
        find . -type f -links +1 -printf '%i %p\n' | sort | awk '{g[$1]=g[$1]" "$2} END {for (i in g) print g[i]}' | sort
        echo "## xattrs"
        getfattr -R -h -d -m '^user\.' . 2>/dev/null | sort
        echo "## acls"
        getfacl -R -p . 2>/dev/null | grep -av '^$' | sort
    )
}

# a source tree with one of everything a volume must keep
make_rich_tree() {  # make_rich_tree DIR
    local d=$1
    mkdir -p "$d/nested/deeper/deepest" "$d/empty-dir" "$d/cache/sub" "$d/sticky"
    echo "hello" >"$d/nested/hello.txt"
    : >"$d/empty-file"
    head -c 20000000 /dev/urandom >"$d/nested/deeper/twenty-mb.bin"
    ln -s nested/hello.txt "$d/rel-symlink"
    ln -s /nonexistent/target "$d/dangling-symlink"
    ln "$d/nested/hello.txt" "$d/hard-link"
    ln "$d/nested/hello.txt" "$d/nested/deeper/hard-link-2"
    truncate -s 50M "$d/sparse.img"
    printf 'middle' | dd of="$d/sparse.img" bs=1 seek=20000000 conv=notrunc status=none
    printf 'end' | dd of="$d/sparse.img" bs=1 seek=52428797 conv=notrunc status=none
    echo "not utf-8" >"$d/$(printf 'caf\xe9-\xff\xfe')"
    echo "spaces" >"$d/name with spaces & 'quotes'"
    echo secret >"$d/private"; chmod 600 "$d/private"
    echo tool >"$d/setuid-tool"; chmod 4755 "$d/setuid-tool"
    chmod 1777 "$d/sticky"
    echo owned >"$d/owned-by-nobody"; chown nobody:nogroup "$d/owned-by-nobody"
    mkfifo "$d/a-fifo"
    echo x >"$d/with-xattr"; setfattr -n user.coffer -v "kept" "$d/with-xattr"
    echo y >"$d/with-acl"; setfacl -m u:nobody:rw "$d/with-acl"
    touch -d '2001-02-03 04:05:06' "$d/nested/hello.txt" "$d/empty-dir"
    echo junk >"$d/scratch.tmp"; echo junk >"$d/nested/other.tmp"
    echo cached >"$d/cache/sub/c"
}
