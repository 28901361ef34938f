# servers.sh - throwaway PostgreSQL 15, MariaDB 10.11 and Redis 7 instances for tests.
# Source after testlib.sh. Each server lives in a directory under $T, listens on a unix
# socket only, and is stopped by PID in an on_exit hook (also when the test fails).
#
# Every server runs its distribution's stock configuration, copied into its directory, with
# what a throwaway instance must change (paths, sockets, ports, users) overridden in one
# commented block per server, last. A setting one test needs for its own purpose goes in that
# test, with a comment saying why, through *_CONF_EXTRA (lines appended after the overrides):
#   REDIS_CONF_EXTRA='enable-debug-command local' start_redis   # DEBUG DIGEST compares data
#
#   start_postgres [NAME]   PG_HOST (socket dir) PG_PORT PG_DATA PG_PID PG_USER PG_PASSWORD
#                           PG_PASSFILE (0600 file holding PG_PASSWORD); also exports
#                           PGHOST/PGPORT/PGUSER=postgres for psql & co. (trust as postgres).
#                           postgresql.conf as initdb writes it; PG_CONF_EXTRA appended
#   stop_postgres / restart_postgres     the last started instance
#   pg_sql [psql args...]   psql as postgres on the last instance (-X -q -v ON_ERROR_STOP=1)
#   PG_BINDIR               /usr/lib/postgresql/15/bin (also put on PATH)
#
#   start_mariadb [NAME]    MY_SOCK MY_DATA MY_PID MY_USER MY_PASSWORD MY_PASSFILE;
#                           /etc/mysql/my.cnf and its mariadb.conf.d/ (binlog off, as stock);
#                           MY_CONF_EXTRA lines go in [mysqld] after the overrides
#   stop_mariadb / restart_mariadb
#   my_sql [mariadb args...] the client as root over the socket (utf8mb4)
#
#   start_redis [NAME]      REDIS_SOCK REDIS_DIR REDIS_PID REDIS_USER REDIS_PASSWORD
#                           REDIS_PASSFILE; /etc/redis/redis.conf (diskless sync with a 5 s
#                           delay, DEBUG refused); the default user stays open (nopass, as
#                           stock) so tests can load data, the ACL user REDIS_USER needs the
#                           password; REDIS_CONF_EXTRA appended
#   stop_redis / restart_redis
#   rcli [redis-cli args...] redis-cli on the last instance's socket
#
# Each start_* sets the variables of the instance it started; a test that needs two
# instances copies them before starting the second. The user named by *_USER is a
# superuser/admin with password *_PASSWORD, for the code under test; tests themselves use
# the password-less admin paths (postgres over trust, root over the socket, default user).
# Passwords are never on a command line: they go through stdin or 0600 files.

PG_BINDIR=/usr/lib/postgresql/15/bin
case ":$PATH:" in *":$PG_BINDIR:"*) ;; *) export PATH="$PATH:$PG_BINDIR" ;; esac

_srv_secret() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
_srv_port() { echo $((20000 + (RANDOM % 20000))); }
# _srv_stop_pid PID [SECONDS] [SIGNAL]: SIGNAL (TERM), wait, then KILL; quiet when gone
_srv_stop_pid() {
    local pid=$1 n=${2:-30} sig=${3:-TERM} i
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < n * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
_srv_write_secret() {  # _srv_write_secret FILE VALUE
    (umask 077 && printf '%s\n' "$2" >"$1")
}
# _srv_conf_extra FILE VAR [SECTION]: append the test's own lines, held in the variable VAR
# (REDIS_CONF_EXTRA...), after the overrides, under SECTION ("[mysqld]") when given
_srv_conf_extra() {
    local file=$1 var=$2 section=${3:-}
    [ -n "${!var:-}" ] || return 0
    {
        printf "\n# --- the test's own lines (%s) ---\n" "$var"
        [ -z "$section" ] || printf '%s\n' "$section"
        printf '%s\n' "${!var}"
    } >>"$file"
}

# --- PostgreSQL 15 ---

_pg_launch() {
    runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null ||
        { echo "start_postgres: pg_ctl start failed" >&2; tail -n 20 "$PG_LOG" >&2; return 1; }
    PG_PID=$(head -n 1 "$PG_DATA/postmaster.pid")
    export PG_PID
}

start_postgres() {
    local name=${1:-pg} d
    d="$T/$name"
    mkdir -p "$d/data" "$d/sock" "$d/log"
    chmod 755 "$T" "$d" "$d/sock"
    chown postgres:postgres "$d/data" "$d/sock" "$d/log"
    chmod 700 "$d/data"
    export PG_DATA="$d/data" PG_HOST="$d/sock" PG_PORT PG_LOG="$d/log/server.log"
    PG_PORT=$(_srv_port)
    # initdb writes postgresql.conf from the stock postgresql.conf.sample. The encoding and
    # locale are fixed rather than taken from the runner's environment (which varies):
    # C.UTF-8 is what Debian's own cluster gets on a machine without another locale.
    runuser -u postgres -- "$PG_BINDIR/initdb" -D "$PG_DATA" -U postgres -E UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=reject >"$d/initdb.log" 2>&1 ||
        { echo "start_postgres: initdb failed" >&2; tail -n 20 "$d/initdb.log" >&2; return 1; }
    # access: postgres itself over trust (test setup); every other role must give its password
    cat >"$PG_DATA/pg_hba.conf" <<'HBA'
local all postgres trust
local all all scram-sha-256
HBA
    cat >>"$PG_DATA/postgresql.conf" <<CONF

# --- overrides for a throwaway test instance (tests/lib/servers.sh) ---
# unix socket only, in the test's directory (stock: TCP on localhost:5432, /var/run/postgresql)
listen_addresses = ''
port = $PG_PORT
unix_socket_directories = '$PG_HOST'
CONF
    _srv_conf_extra "$PG_DATA/postgresql.conf" PG_CONF_EXTRA
    _pg_launch || return 1
    on_exit "_srv_stop_pid $PG_PID 30 INT"
    export PGHOST="$PG_HOST" PGPORT="$PG_PORT" PGUSER=postgres PGDATABASE=postgres
    export PG_USER=coffer PG_PASSWORD PG_PASSFILE="$d/pg.pass"
    PG_PASSWORD=$(_srv_secret)
    _srv_write_secret "$PG_PASSFILE" "$PG_PASSWORD"
    printf "CREATE ROLE coffer LOGIN SUPERUSER PASSWORD '%s';\n" "$PG_PASSWORD" |
        "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres \
            -d postgres >/dev/null || return 1
}

# fast shutdown (SIGINT): SIGTERM would wait for every client to disconnect
stop_postgres() {
    _srv_stop_pid "$PG_PID" 30 INT
}

restart_postgres() {
    stop_postgres
    _pg_launch
    on_exit "_srv_stop_pid $PG_PID 30 INT"
}

# pg_archive_access DIR: the access docs/PITR.md sets up for archive_command, which the
# server runs as postgres: DIR/coffer.conf and the repository's root and repo.json
# group-readable by postgres, the key and logs/ owned by postgres, nothing world-readable
# (DIR holds coffer.conf, repo.key and a local repository at DIR/repo, already initialised)
pg_archive_access() {
    local d=$1
    chgrp postgres "$d" "$d/coffer.conf" "$d/repo" "$d/repo/repo.json"
    chmod 0750 "$d" "$d/repo"
    chmod 0640 "$d/coffer.conf" "$d/repo/repo.json"
    chown postgres "$d/repo.key"
    install -d -o postgres -g postgres -m 0700 "$d/repo/logs"
}
pg_sql() {
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres "$@"
}

# --- MariaDB 10.11 ---

_my_launch() {
    local d i
    d=$(dirname "$MY_DATA")
    mariadbd --defaults-file="$d/etc/my.cnf" </dev/null >/dev/null 2>&1 &
    MY_PID=$!
    export MY_PID
    on_exit "_srv_stop_pid $MY_PID"
    for ((i = 0; i < 600; i++)); do
        mariadb-admin --no-defaults -S "$MY_SOCK" -uroot ping >/dev/null 2>&1 && return 0
        kill -0 "$MY_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "start_mariadb: server did not come up" >&2
    tail -n 20 "$d/server.log" >&2
    return 1
}

start_mariadb() {
    local name=${1:-my} d
    d="$T/$name"
    mkdir -p "$d/etc"
    chmod 755 "$T" "$d"
    export MY_DATA="$d/data" MY_SOCK="$d/my.sock"
    # Debian's /etc/mysql/my.cnf (-> mariadb.cnf) and the directories it includes, copied;
    # the copy includes the copies. The overrides go in a file read after the stock ones.
    cp -r /etc/mysql/conf.d /etc/mysql/mariadb.conf.d "$d/etc/"
    sed -e "s|^!includedir /etc/mysql/|!includedir $d/etc/|" /etc/mysql/my.cnf >"$d/etc/my.cnf"
    cat >"$d/etc/mariadb.conf.d/99-coffer-test.cnf" <<CONF
# --- overrides for a throwaway test instance (tests/lib/servers.sh) ---
[client-server]
# the test's socket (stock: /run/mysqld/mysqld.sock)
socket = $MY_SOCK

[mysqld]
# the test's directory (stock: /var/lib/mysql, /run/mysqld, syslog through mysqld_safe)
datadir = $MY_DATA
pid-file = $d/mariadbd.pid
log-error = $d/server.log
# the tests run as root and start mariadbd directly (stock: systemd, user mysql)
user = root
# no TCP listener (stock: 3306 on 127.0.0.1, shared by every test on the machine)
skip-networking
CONF
    _srv_conf_extra "$d/etc/mariadb.conf.d/99-coffer-test.cnf" MY_CONF_EXTRA '[mysqld]'
    # The bootstrap writes its own errors to log-error (server.log), not to install.log: both
    # are shown when it fails. It failed once, unexplained, while other tests started servers
    # at the same moment: a second try on an empty data directory, said aloud, before giving up.
    local try
    for try in 1 2; do
        mariadb-install-db --defaults-file="$d/etc/my.cnf" \
            --auth-root-authentication-method=normal >"$d/install.log" 2>&1 && break
        echo "start_mariadb: mariadb-install-db failed (try $try of 2)" >&2
        tail -n 20 "$d/install.log" >&2
        [ -f "$d/server.log" ] && tail -n 20 "$d/server.log" >&2
        [ "$try" = 2 ] && return 1
        rm -rf "$MY_DATA"
        sleep 1
    done
    _my_launch || return 1
    export MY_USER=coffer MY_PASSWORD MY_PASSFILE="$d/my.pass"
    MY_PASSWORD=$(_srv_secret)
    _srv_write_secret "$MY_PASSFILE" "$MY_PASSWORD"
    printf "CREATE USER 'coffer'@'localhost' IDENTIFIED BY '%s';
GRANT ALL PRIVILEGES ON *.* TO 'coffer'@'localhost' WITH GRANT OPTION;\n" "$MY_PASSWORD" | my_sql
}

stop_mariadb() {
    _srv_stop_pid "$MY_PID" 60
}

restart_mariadb() {
    stop_mariadb
    _my_launch
}

my_sql() {
    mariadb --no-defaults -S "$MY_SOCK" -uroot --default-character-set=utf8mb4 "$@"
}

# --- Redis 7 ---

_redis_launch() {
    local i
    redis-server "$REDIS_DIR/redis.conf" </dev/null >/dev/null 2>&1 &
    REDIS_PID=$!
    export REDIS_PID
    on_exit "_srv_stop_pid $REDIS_PID"
    for ((i = 0; i < 300; i++)); do
        # PONG, or NOAUTH from a server whose test set requirepass: either way it is up
        case $(redis-cli -s "$REDIS_SOCK" ping 2>/dev/null) in PONG | NOAUTH*) return 0 ;; esac
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "start_redis: server did not come up" >&2
    tail -n 20 "$REDIS_DIR/server.log" >&2
    return 1
}

start_redis() {
    local name=${1:-redis}
    export REDIS_DIR="$T/$name"
    mkdir -p "$REDIS_DIR"
    chmod 755 "$T"
    chmod 700 "$REDIS_DIR"
    export REDIS_SOCK="$REDIS_DIR/redis.sock"
    export REDIS_USER=coffer REDIS_PASSWORD REDIS_PASSFILE="$REDIS_DIR/redis.pass"
    REDIS_PASSWORD=$(_srv_secret)
    _srv_write_secret "$REDIS_PASSFILE" "$REDIS_PASSWORD"
    # Debian's stock file, then the overrides of a throwaway instance (the last occurrence of
    # a directive wins); the file holds the ACL password: 0600, never argv
    (umask 077 && cp /etc/redis/redis.conf "$REDIS_DIR/redis.conf" && cat >>"$REDIS_DIR/redis.conf" <<CONF

# --- overrides for a throwaway test instance (tests/lib/servers.sh) ---
# no TCP listener (stock: 6379 on loopback, shared by every test on the machine)
port 0
# a socket in the test's directory, for the test's user only
unixsocket $REDIS_SOCK
unixsocketperm 700
# run in the foreground so that the harness holds the PID (stock: daemonize yes)
daemonize no
# the test's directory, not /run/redis, /var/log/redis and /var/lib/redis
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/server.log
dir $REDIS_DIR
# the ACL user for the code under test (the default user stays as stock: on, nopass)
user coffer on >$REDIS_PASSWORD ~* &* +@all
CONF
    ) || return 1
    _srv_conf_extra "$REDIS_DIR/redis.conf" REDIS_CONF_EXTRA
    _redis_launch
}

stop_redis() {
    _srv_stop_pid "$REDIS_PID"
}

restart_redis() {
    stop_redis
    _redis_launch
}

rcli() {
    redis-cli -s "$REDIS_SOCK" "$@"
}
