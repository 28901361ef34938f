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
ok() {
    local what=$1; shift
    if "$@" >"$_out" 2>"$_err"; then
        echo "ok - $what"
    else
        echo "not ok - $what (exit $?)"
        echo "#   command: $*"
        sed 's/^/#   stderr: /' "$_err" | tail -n 20
        sed 's/^/#   stdout: /' "$_out" | tail -n 10
    fi
}
check() { ok "$@"; }
fails() {
    local what=$1 code=$2 needle=$3; shift 3
    "$@" >"$_out" 2>"$_err"
    local rc=$?
    if [ "$rc" -eq "$code" ] && grep -qF -- "$needle" "$_err"; then
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
CONF
}
