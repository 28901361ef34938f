# migrate.sh - helpers for the migrate integration tests. Source after testlib.sh and
# servers.sh.
#
#   mig_conf FILE KIND DB MIGDIR   write a coffer.conf with a local repository and
#                                  [source app] for the last started server of KIND
#                                  (postgres or mariadb)
#   mig FILE args...               bin/migrate --config FILE --source app args...
#   mig_file DIR NAME TEXT         write DIR/NAME with TEXT

mig_conf() {
    local f=$1 kind=$2 db=$3 dir=$4 d
    d=$(dirname "$f")
    mkdir -p "$d"
    [ -f "$d/repo.key" ] || { head -c 32 /dev/urandom >"$d/repo.key"; chmod 600 "$d/repo.key"; }
    {
        cat <<CONF
[repository]
target = local
path = $d/repo
key-file = $d/repo.key

CONF
        if [ "$kind" = postgres ]; then
            cat <<CONF
[source app]
type = postgres
host = $PG_HOST
port = $PG_PORT
user = $PG_USER
password-file = $PG_PASSFILE
databases = $db
migrations = $dir
CONF
        else
            cat <<CONF
[source app]
type = mariadb
socket = $MY_SOCK
user = $MY_USER
password-file = $MY_PASSFILE
databases = $db
migrations = $dir
CONF
        fi
    } >"$f"
}

mig() {
    local f=$1; shift
    migrate --config "$f" --source app "$@"
}

mig_file() {
    mkdir -p "$1"
    printf '%s\n' "$3" >"$1/$2"
}

# exits "what" CODE cmd...   passes when cmd exits CODE (stdout/stderr kept for saw)
exits() {
    local what=$1 code=$2 rc; shift 2
    "$@" >"$_out" 2>"$_err"
    rc=$?
    if [ "$rc" -eq "$code" ]; then
        echo "ok - $what"
    else
        echo "not ok - $what (exit $rc, wanted $code)"
        echo "#   command: $*"
        sed 's/^/#   stderr: /' "$_err" | tail -n 10
    fi
}

# saw "what" out|err NEEDLE   the last ok/fails/exits command printed NEEDLE (fixed string)
saw() {
    local what=$1 f=$_out needle=$3
    [ "$2" = err ] && f=$_err
    if grep -qF -- "$needle" "$f"; then
        echo "ok - $what"
    else
        echo "not ok - $what (no '$needle' on std$2)"
        sed "s/^/#   std$2: /" "$f" | tail -n 10
    fi
}

# mig_race CONF: two `migrate up --no-snapshot` at once; sets race_rc ("0:0" when both
# succeeded) and race_waited (1 when one of them logged waiting for the lock)
mig_race() {
    local p1 p2 rc1 rc2
    mig "$1" up --no-snapshot >"$T/race1.out" 2>"$T/race1.err" &
    p1=$!
    mig "$1" up --no-snapshot >"$T/race2.out" 2>"$T/race2.err" &
    p2=$!
    wait $p1; rc1=$?
    wait $p2; rc2=$?
    race_rc="$rc1:$rc2"
    race_waited=0
    cat "$T/race1.err" "$T/race2.err" | grep -q 'waiting for the migration lock' && race_waited=1
}
