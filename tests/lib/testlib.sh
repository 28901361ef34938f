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

# a private key file and a minimal configuration for a local repository
make_local_conf() {  # make_local_conf DIR SOURCE_PATH -> writes DIR/coffer.conf, DIR/repo.key
    local d=$1 src=$2
    mkdir -p "$d"
    head -c 32 /dev/urandom >"$d/repo.key"
    chmod 600 "$d/repo.key"
    cat >"$d/coffer.conf" <<CONF
[repository]
target = local
path = $d/repo
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
