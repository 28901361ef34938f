#!/usr/bin/env bash
# db_config.sh - configuration errors of the database sources, caught by `backupd check-config`
# with file and line, before any server is contacted.
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib/testlib.sh"

make_local_conf "$T/c" "$T"
base="$T/c/coffer.conf"
(umask 077; echo secret >"$T/ok.pass")
echo secret >"$T/open.pass"; chmod 644 "$T/open.pass"
try() {  # try 'section text': a config with it appended, checked
    cp "$base" "$T/try.conf"
    printf '\n%s\n' "$1" >>"$T/try.conf"
    backupd --config "$T/try.conf" check-config --offline   # no server runs here
}
ok "init" backupd --config "$base" init
ok "a full postgres section is valid" try "[source pg]
type = postgres
host = /run/postgresql
port = 5432
user = backup
password-file = $T/ok.pass
databases = app, billing
bin-dir = /usr/lib/postgresql/15/bin"
ok "mariadb and redis sections are valid" try "[source my]
type = mariadb
socket = /run/mysqld/mysqld.sock
user = backup
password-file = $T/ok.pass
databases = all

[source cache]
type = redis
host = 127.0.0.1
port = 6379
user = backup
password-file = $T/ok.pass"
# try appends a blank line, then the text: its third line is base + 4
fails "an unknown key is named with its line" 2 "try.conf:$(( $(wc -l <"$base") + 4 )): [source pg] unknown key 'passwd'" try "[source pg]
type = postgres
passwd = x"
fails "a password file others can read is refused" 2 "is readable by group or others" try "[source pg]
type = postgres
password-file = $T/open.pass"
fails "a missing password file is refused" 2 "password-file" try "[source my]
type = mariadb
password-file = $T/none.pass"
fails "socket and host together" 2 "give either socket or host" try "[source my]
type = mariadb
socket = /run/mysqld/mysqld.sock
host = db.example.com"
fails "'all' mixed with names" 2 "'all' cannot be combined" try "[source pg]
type = postgres
databases = all, app"
fails "a database name with a quote" 2 "is not a name coffer accepts" try "[source pg]
type = postgres
databases = app'; DROP"
fails "a bad port" 2 "port" try "[source pg]
type = postgres
port = 99999"
fails "a redis ACL user without a password" 2 "an ACL user needs a password" try "[source cache]
type = redis
user = backup"
fails "postgres takes no socket key" 2 "unknown key 'socket'" try "[source pg]
type = postgres
socket = /run/postgresql/.s.PGSQL.5432"
