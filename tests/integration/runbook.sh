#!/usr/bin/env bash
# runbook.sh - every fenced command block of docs/RUNBOOK.md runs against a throwaway setup:
# a local repository, a volume, PostgreSQL, MariaDB and Redis from tests/lib/servers.sh. The
# doc's placeholders (/etc/coffer/coffer.conf, /srv/media, /var/tmp, the example ids and
# times...) are mapped to the test's below; a line still holding a system path after the
# mapping fails rather than touching the host. Each block runs, in the doc's order, line by
# line in this shell (so servers.sh's functions stand in for systemctl), and each line must
# exit 0. A block the test cannot run is marked in the doc, on the line before it:
#   <!-- runbook-test: skip (REASON) -->          not run; REASON is required
#   <!-- runbook-test: public-key repository -->  run against a repository sealed to a key pair
#   <!-- runbook-test: ANY OTHER NOTE -->         run as usual
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"
. "$here/lib/servers.sh"
doc="$here/../docs/RUNBOOK.md"

start_postgres || exit 1
start_mariadb || exit 1
start_redis || exit 1
pg_sql -c "CREATE DATABASE app"
pg_sql -d app -c "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT i, 'order ' || i FROM generate_series(1, 500) i"
my_sql -e "CREATE DATABASE shop; CREATE TABLE shop.items (id int PRIMARY KEY, name varchar(40)) ENGINE=InnoDB; INSERT INTO shop.items SELECT seq, concat('item ', seq) FROM seq_1_to_300" 2>/dev/null ||
    my_sql -e "CREATE DATABASE IF NOT EXISTS shop; USE shop; CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name varchar(40)) ENGINE=InnoDB; INSERT INTO items SELECT seq, concat('item ', seq) FROM seq_1_to_300"
rcli mset k1 v1 k2 v2 k3 v3 >/dev/null
rcli set session:1 s EX 86400 >/dev/null
mkdir -p "$T/srv/media/photos" "$T/etc" "$T/var" "$T/cwd" "$T/pub"
seq 1 5000 >"$T/srv/media/photos/list.txt"
(umask 077 && echo "a passphrase for the key slots block" >"$T/etc/repo.pass")
echo "original" >"$T/srv/media/readme"

CONF="$T/etc/coffer.conf"
cat >"$CONF" <<CONF
[repository]
path = $T/repo
key-file = $T/etc/repo.key

[source media]
type = volume
path = $T/srv/media

$(for name in pg-main app-db; do  # the doc's two names for one server
    printf '[source %s]\ntype = postgres\nhost = %s\nport = %s\nuser = %s\npassword-file = %s\ndatabases = app\n\n' \
        "$name" "$PG_HOST" "$PG_PORT" "$PG_USER" "$PG_PASSFILE"
done)

[source shop-db]
type = mariadb
socket = $MY_SOCK
user = $MY_USER
password-file = $MY_PASSFILE
databases = shop

[source cache]
type = redis
socket = $REDIS_SOCK
user = $REDIS_USER
password-file = $REDIS_PASSFILE

[job nightly]
sources = media, pg-main, app-db, shop-db, cache

[catalog]
path = $T/etc/catalog.db
CONF
# the public-key repository for the blocks marked so: the secret key where the doc keeps it
backupd keygen --public "$T/pub/repo.pub" --secret "$T/pub/repo.sec" >/dev/null 2>&1
PUBCONF="$T/pub/coffer.conf"
cat >"$PUBCONF" <<CONF
[repository]
path = $T/pub/repo
public-key-file = $T/pub/repo.pub
[source media]
type = volume
path = $T/srv/media
[job nightly]
sources = media
[catalog]
path = $T/pub/catalog.db
CONF
backupd --config "$PUBCONF" init >/dev/null 2>&1 && backupd --config "$PUBCONF" run nightly >/dev/null 2>&1 ||
    echo "not ok - the public-key repository for the marked blocks is set up"
SCRATCH_PORT=$(_srv_port)

# the doc's placeholders, longest first; values are shell expressions, expanded when run
mapfile -t blocks < <(python3 - "$doc" "$T/blocks" <<'PY'
import os, re, sys
doc, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
MAP = [
    ("/etc/coffer/coffer.conf", "$CONF"), ("/etc/coffer/repo.key", "$T/etc/repo.key"),
    ("/etc/coffer/repo.pass", "$T/etc/repo.pass"),
    ("/srv/media.restored", "$T/srv/media.restored"), ("/srv/media", "$T/srv/media"),
    ("/var/tmp/", "$T/var/"), ("/var/lib/redis/", "$REDIS_DIR/"), ("-o redis -g redis ", ""),
    ("systemctl stop redis-server", "stop_redis"), ("systemctl start redis-server", "_redis_launch"),
    ("/root/repo.sec", "$T/pub/repo.sec"), ("6390", "$SCRATCH_PORT"),
    ("20261121T020000Z-5e1f09aa", "$ID_PG_MAIN"), ("20261122T031500Z-4071a2b3", "$ID_MEDIA"),
    ("2026-11-21T03:40:00+01:00", "$AT_OFFSET"), ("2026-11-21T03:00:00Z", "$AT_UTC"),
    ("2026-11-20T00:00:00Z", "$SINCE"), ("2026-11-21T06:00:00Z", "$AT_UTC"),
    ("mariadb --comments shop_restored", "my_sql --comments shop_restored"),
]
pat = re.compile("|".join(re.escape(k) for k, _ in sorted(MAP, key=lambda m: -len(m[0]))))
rep = dict(MAP)
lines = open(doc).read().split("\n")
marker, i, n = "", 0, 0
while i < len(lines):
    s = lines[i].strip()
    m = re.match(r"<!-- runbook-test: (.*?) -->$", s)
    if m:
        marker = m.group(1)
    elif s.startswith("```"):
        start, body = i + 1, []
        i += 1
        while not lines[i].strip().startswith("```"):
            body.append(lines[i].strip())
            i += 1
        n += 1
        conf = "$PUBCONF" if marker == "public-key repository" else "$CONF"
        cmds = []
        for b in body:                      # join continuation lines
            if cmds and cmds[-1].endswith("\\"):
                cmds[-1] = cmds[-1][:-1] + " " + b
            elif b:
                cmds.append(b)
        cmds = [pat.sub(lambda x: rep[x.group(0)], c) for c in cmds]
        cmds = [re.sub(r"^(catalog|restore|backupd)(?! --config)(?! keygen) ", r'\1 --config "%s" ' % conf, c)
                for c in cmds]
        path = f"{out}/{n:03d}"
        open(path, "w").write("\n".join(cmds) + "\n")
        print(f"{start}|{marker}|{path}")
        marker = ""
    elif s:
        marker = ""
    i += 1
PY
)
check "the runbook has fenced blocks to run" test "${#blocks[@]}" -gt 10

cd "$T/cwd" || exit 1
ran_nightly=false
for b in "${blocks[@]}"; do
    IFS="|" read -r line marker file <<<"$b"
    case $marker in
    skip*)
        reason=${marker#skip}; reason=${reason# }
        if [ "${#reason}" -gt 2 ]; then
            echo "ok - RUNBOOK.md:$line $(head -c 60 "$file" | head -n 1) # SKIP $reason"
        else
            echo "not ok - RUNBOOK.md:$line: a skipped block must say why: <!-- runbook-test: skip (REASON) -->"
        fi
        continue ;;
    esac
    case $marker in
    "a [mirror offsite] added to the configuration")  # the Mirrors section's setup
        printf '\n[mirror offsite]\npath = %s\n' "$T/offsite" >>"$CONF" ;;
    "after a manifest was removed by hand")  # the procedure's situation: media's backup vanished
        rm "$T/repo/backups/media/$ID_MEDIA/manifest"
        catalog --config "$CONF" status >"$_out" 2>"$_err"
        check "a backup whose manifest was removed by hand: status exits 1 naming it" \
            test $? = 1 -a -n "$(grep "media/$ID_MEDIA VANISHED" "$_out" "$_err")" ;;
    esac
    while IFS= read -r cmd; do
        case $cmd in \#*) continue ;; esac   # a comment line
        if grep -Eq '(^|[ =])/(etc|srv|var|root|usr/local)/|systemctl|2026-1[0-9]-[0-9]|20261[0-9]{3}T' <<<"$cmd"; then
            echo "not ok - RUNBOOK.md:$line: a placeholder the test does not map: $cmd"
            continue
        fi
        if eval "$cmd" >"$_out" 2>"$_err"; then
            echo "ok - RUNBOOK.md:$line: $cmd"
        else
            echo "not ok - RUNBOOK.md:$line: $cmd (exit $?)"
            sed 's/^/#   stderr: /' "$_err" | tail -n 10
            sed 's/^/#   stdout: /' "$_out" | tail -n 5
        fi
        case $cmd in
        *"&")  # a server started in the background: stopped at exit, waited for
            pid=$!
            on_exit "_srv_stop_pid $pid"
            for ((i = 0; i < 100; i++)); do
                [ "$(redis-cli -p "$SCRATCH_PORT" ping 2>/dev/null)" = PONG ] && break
                sleep 0.05
            done ;;
        *"run nightly"*)
            if ! $ran_nightly; then  # the ids and times the later blocks name
                ran_nightly=true
                ID_PG_MAIN=$(ls "$T/repo/backups/pg-main" | tail -n 1)
                ID_MEDIA=$(ls "$T/repo/backups/media" | tail -n 1)
                sleep 1
                AT_UTC=$(date -u +%Y-%m-%dT%H:%M:%SZ)
                AT_OFFSET=$(TZ=Etc/GMT-1 date +%Y-%m-%dT%H:%M:%S+01:00)
                SINCE=$(date -u -d '1 day ago' +%Y-%m-%dT%H:%M:%SZ)
            fi ;;
        esac
    done <"$file"
done

# what the procedures promise, beyond their exit codes
cd "$T" || exit 1
check "the volume restored beside the original equals it" diff -r "$T/srv/media" "$T/srv/media.restored"
check "the volume restored from the mirror equals the original" diff -r "$T/srv/media" "$T/srv/media.from-offsite"
check "PostgreSQL: the restored database has the rows" test "$(pg_sql -d app_restored -tAc 'SELECT count(*) FROM orders')" = 500
check "PostgreSQL: pg_restore by hand from --to-file has the rows" test "$(pg_sql -d app_by_hand -tAc 'SELECT count(*) FROM orders')" = 500
check "MariaDB: the SQL written by --to-file loaded into another database" test "$(my_sql -N -e 'SELECT count(*) FROM shop_restored.items')" = 300
check "Redis: the scratch server holds the backup's keys" test "$(redis-cli -p "$SCRATCH_PORT" dbsize)" = 4
check "Redis: the RDB put in place by hand is loaded at start" test "$(rcli mget k1 k2 k3 | tr '\n' ' ')" = "v1 v2 v3 "
check "Redis: with its TTLs" test "$(rcli ttl session:1)" -gt 0
catalog --config "$CONF" show "$ID_PG_MAIN" >"$T/show.txt" 2>&1
check "PostgreSQL: 'catalog show ID' gives snapshot_time and wal_lsn, as the runbook says" \
    grep -q '"snapshot_time".*"wal_lsn"\|"wal_lsn".*"snapshot_time"' "$T/show.txt"
