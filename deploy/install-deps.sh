#!/bin/sh
# install-deps.sh GROUP... - install the Debian packages a group needs, only when missing.
#   build: compiler and -dev libraries      test: servers and tools the tests start
#   bench: the peers the benchmarks measure against
set -e
pkgs=""
for g in "$@"; do
    case "$g" in
    build) pkgs="$pkgs gcc make pkg-config scdoc libarchive-dev libzstd-dev libsodium-dev libsqlite3-dev
                 libcurl4-openssl-dev libssl-dev libpq-dev libmariadb-dev libjansson-dev
                 libmicrohttpd-dev" ;;
    test)  pkgs="$pkgs zstd acl attr sqlite3 procps psmisc python3 curl faketime socat openssl strace
                 man-db systemd bsdutils
                 prometheus
                 postgresql-15 postgresql-client-15 mariadb-server mariadb-client
                 redis-server redis-tools radosgw ceph-mon ceph-osd ceph-common" ;;
    bench) pkgs="$pkgs zstd time restic borgbackup postgresql-contrib iproute2 pgbackrest" ;;
    *) echo "install-deps.sh: unknown group '$g' (build, test, bench)" >&2; exit 2 ;;
    esac
done
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "coffer needs these Debian packages:$missing" >&2
    echo "HINT: run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi
echo "installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# servers are started by the tests themselves, never by the package scripts
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends $missing >/dev/null
