#!/usr/bin/env bash
# log_progress.sh - what the tools write on stderr, by where it goes (docs/RUNBOOK.md
# "Installing", "Logs"): --version on every tool; --log-format json on every tool, every line
# then JSON (the final error line too); under systemd (JOURNAL_STREAM naming stderr) text
# lines start with sd-daemon(3) priority prefixes, and with stderr elsewhere they do not; the
# progress line (bytes, rate; percent and ETA on restore) on a terminal (a pseudo-terminal from
# script(1)), never in a pipe, a file or the journal, nor with COFFER_NO_PROGRESS.
source "$COFFER_TESTS/lib/testlib.sh"

top=$(cd "$COFFER_TESTS/.." && pwd)
ver=$(sed -n 's/^#define COFFER_VERSION "\(.*\)"/\1/p' "$top/lib/core/version.h")
mkdir -p "$T/src"
head -c 24M /dev/urandom >"$T/src/big"
echo "small $RANDOM" >"$T/src/small"
OBJECT_SIZE=8MiB make_local_conf "$T/d" "$T/src"
C="$T/d/coffer.conf"
ok "init" backupd --config "$C" init

for t in backupd restore catalog migrate; do
    ok "$t --version" "$t" --version
    check "$t --version says '$t (coffer) $ver'" test "$(cat "$_out")" = "$t (coffer) $ver"
    fails "$t --log-format yaml is a usage error" 2 "'yaml' is not text or json" "$t" --log-format yaml --version
done

# --- JSON everywhere: every stderr line of every tool is one JSON object ---
alljson() { python3 -c 'import json,sys
n=0
for l in open(sys.argv[1]):
    d=json.loads(l); assert {"time","level","msg"} <= d.keys(), l; n+=1
assert n > 0' "$1"; }
ok "backupd run --log-format json" backupd --config "$C" --log-format json run nightly
check "backupd: every stderr line is JSON" alljson "$_err"
# a second index of the same repository: built on first use, which catalog says on stderr
sed "s|^path = $T/d/catalog.db|path = $T/d/catalog2.db|" "$C" >"$T/d/c2.conf"
ok "catalog list --log-format json (a new index)" catalog --config "$T/d/c2.conf" --log-format json list
check "catalog: every stderr line is JSON" alljson "$_err"
ok "restore --log-format json" restore --config "$C" --log-format json --source media --at latest --to "$T/r0"
check "restore: every stderr line is JSON" alljson "$_err"
fails "migrate --log-format json, an error" 2 '"level":"error"' migrate --config "$C" --log-format json --source media status
check "migrate: every stderr line is JSON, the error too" alljson "$_err"
fails "restore --log-format json, an error" 1 '"level":"error"' restore --config "$C" --log-format json --source media --at 2000-01-01T00:00:00Z --to "$T/r1"
check "restore: the error line is JSON" alljson "$_err"

# --- the journal: JOURNAL_STREAM names stderr's device and inode ---
: >"$T/journal"
js=$(stat -c %d:%i "$T/journal")
JOURNAL_STREAM=$js backupd --config "$C" run nightly 2>>"$T/journal" >/dev/null
check "under systemd: a run succeeds" test $? = 0
check "every log line starts with a priority prefix" bash -c "test -s '$T/journal' && ! grep -v '^<[3467]>' '$T/journal'"
check "info lines are <6>" grep -q '^<6>.* info backup done' "$T/journal"
: >"$T/journal2"
JOURNAL_STREAM=$(stat -c %d:%i "$T/journal2") backupd --config "$C" run nosuchjob 2>>"$T/journal2" >/dev/null
check "an error line is <3>" grep -q '^<3>backupd: error: ' "$T/journal2"
mv "$T/src" "$T/src.away"
: >"$T/journal3"
JOURNAL_STREAM=$(stat -c %d:%i "$T/journal3") backupd --config "$C" run nightly 2>>"$T/journal3" >/dev/null
mv "$T/src.away" "$T/src"
check "a failed source under systemd: its lines are <3>" \
    bash -c "grep -q \"^<3>backupd: error: source 'media'\" '$T/journal3' && grep -q '^<3>.* error backup failed' '$T/journal3'"
JOURNAL_STREAM=$js backupd --config "$C" run nightly 2>"$T/elsewhere" >/dev/null
check "stderr elsewhere (same variable): no prefix" bash -c "grep -q ' info ' '$T/elsewhere' && ! grep -q '^<' '$T/elsewhere'"
JOURNAL_STREAM=$js backupd --config "$C" run nightly 2>&1 >/dev/null | cat >"$T/piped"
check "stderr a pipe: no prefix" bash -c "grep -q ' info ' '$T/piped' && ! grep -q '^<' '$T/piped'"
: >"$T/journal4"
JOURNAL_STREAM=$(stat -c %d:%i "$T/journal4") backupd --config "$C" --log-format json run nightly 2>>"$T/journal4" >/dev/null
check "under systemd with --log-format json: plain JSON lines" alljson "$T/journal4"
JOURNAL_STREAM=garbage backupd --config "$C" run nightly 2>"$T/garbage" >/dev/null
check "a malformed JOURNAL_STREAM is ignored" bash -c "grep -q ' info ' '$T/garbage' && ! grep -q '^<' '$T/garbage'"

# --- progress: on a terminal only ---
tty_run() {  # tty_run OUT CMD...: CMD with stdin, stdout and stderr on a pseudo-terminal
    local out=$1; shift
    script -qec "$(printf '%q ' "$@")" /dev/null </dev/null >"$out" 2>&1
}
head -c 24M /dev/urandom >"$T/src/big"   # read again by the incremental backup
ok "a backup on a terminal" tty_run "$T/tty.backup" backupd --config "$C" run nightly
check "shows its progress line: bytes and rate" grep -aqE $'\rbacking up [0-9.]+ ([KMG]i)?B [0-9.]+ ([KMG]i)?B/s' "$T/tty.backup"
check "and clears it before the next log line" grep -aqE $'\r +\r[0-9T:-]+Z info ' "$T/tty.backup"
check "no log line runs on after a progress line" bash -c "! grep -aE 'B/s *[0-9]{4}-[0-9]{2}-' '$T/tty.backup'"
ok "a restore on a terminal" tty_run "$T/tty.restore" restore --config "$C" --source media --at latest --to "$T/r2"
check "shows bytes, percent, rate and ETA (the size is known)" \
    grep -aqE $'\rrestoring [0-9.]+ ([KMG]i)?B \\([0-9]+%\\) [0-9.]+ ([KMG]i)?B/s eta [0-9]+s' "$T/tty.restore"
check "the restore is whole" diff -r "$T/src" "$T/r2"
ok "a verify on a terminal" tty_run "$T/tty.verify" catalog --config "$C" verify --latest
check "shows its progress too" grep -aqE $'\rverifying [0-9.]+ ([KMG]i)?B \\([0-9]+%\\)' "$T/tty.verify"

ok "a backup with stderr a pipe" bash -c "backupd --config '$C' run nightly 2>&1 >/dev/null | cat >'$T/pipe.backup'"
check "no progress line, no carriage return" bash -c "grep -q ' info backup done' '$T/pipe.backup' && ! grep -aq $'\r' '$T/pipe.backup'"
ok "a restore with stderr a file" restore --config "$C" --source media --at latest --to "$T/r3"
check "no progress line in the file" bash -c "! grep -aq $'\r' '$_err' && ! grep -q restoring '$_err'"
ok "a backup on a terminal that is the journal" tty_run "$T/tty.journal" \
    bash -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec backupd --config "$1" run nightly' sh "$C"
check "no progress line under systemd, prefixes instead" \
    bash -c "grep -aq '^<6>' '$T/tty.journal' && ! grep -aq 'backing up' '$T/tty.journal'"
COFFER_NO_PROGRESS=1 tty_run "$T/tty.quiet" backupd --config "$C" run nightly
check "COFFER_NO_PROGRESS=1: none on a terminal" bash -c "grep -aq 'info backup done' '$T/tty.quiet' && ! grep -aq 'backing up' '$T/tty.quiet'"
