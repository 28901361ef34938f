#!/usr/bin/env bash
# local_durability.sh - on a local target, every directory a put creates (the repository's
# root, backups/<source>/, backups/<source>/<id>/, data/) is fsync'd in its parent before any
# object is published inside it, and a removal is synced in its directory (docs/FORMAT.md
# "Durability on a local target"). Observed with strace: the system calls themselves, in order.
. "$COFFER_TESTS/lib/testlib.sh"

# deploy/install-deps.sh installs strace with the test packages: without it, this fails
check "strace is installed (deploy/install-deps.sh test)" command -v strace || exit 1
# LeakSanitizer cannot run under ptrace: in the sanitizer build, no leak check under strace
# (the same commands run without strace, leak-checked, in the other tests)
strace_() { env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace "$@"; }

mkdir -p "$T/src" && head -c 2500000 /dev/urandom >"$T/src/a"
OBJECT_SIZE=1MiB make_local_conf "$T" "$T/src"
C="--config $T/coffer.conf"

# every mkdir under the repository that created a directory must be followed by an fsync of
# its parent before the first rename or link that publishes an object inside it
cat >"$T/check.py" <<'PY'
import os, re, sys
root = sys.argv[2]
made, synced, bad, n = {}, set(), [], 0
for line in open(sys.argv[1]):
    m = re.search(r'mkdir\("([^"]+)", [0-7]+\)\s+= 0', line)
    if m and m.group(1).startswith(root):
        made[m.group(1)] = False
        n += 1
        continue
    m = re.search(r'fsync\(\d+<([^>]+)>\)\s+= 0', line)
    if m:
        for d in made:
            if os.path.dirname(d) == m.group(1):
                made[d] = True
        continue
    m = re.search(r'(?:rename|link)(?:at2?)?\(.*"([^"]+)"[^"]*\)\s+= 0', line)
    if m:
        for d, ok in made.items():
            if m.group(1).startswith(d + "/") and not ok:
                bad.append(d)
if n == 0:
    sys.exit("no directory was created under " + root)
if bad:
    sys.exit("published into a directory whose entry was not synced: " + ", ".join(sorted(set(bad))))
print(n, "directories created, each synced in its parent")
PY

ok "init under strace" strace_ -f -y -qq -o "$T/init.tr" -e trace=mkdir,fsync,rename,link,renameat,renameat2,linkat backupd $C init
ok "init syncs each directory it creates in its parent" python3 "$T/check.py" "$T/init.tr" "$T/repo"
ok "backup under strace" strace_ -f -y -qq -o "$T/run.tr" -e trace=mkdir,fsync,rename,link,renameat,renameat2,linkat backupd $C run nightly
check "the backup created backups/media/<id>/data/" grep -q 'mkdir(".*/repo/backups/media/[^/"]*/data", 0700) = 0' "$T/run.tr"
ok "backup syncs each directory it creates in its parent" python3 "$T/check.py" "$T/run.tr" "$T/repo/backups"
ok "the backup restores" restore $C --source media --at now --to "$T/out"
check "with the same bytes" cmp "$T/src/a" "$T/out/a"

# a removal is durable before the next step (prune removes the manifest, then the data)
id=$(ls "$T/repo/backups/media")
ok "pin" catalog $C pin "$id" --reason test
ok "unpin under strace" strace_ -f -y -qq -o "$T/unpin.tr" -e trace=unlink,unlinkat,fsync catalog $C unpin "$id"
check "unpin removed the pin and synced its directory" python3 -c "
import re, sys
lines = open('$T/unpin.tr').read().splitlines()
i = next(k for k, l in enumerate(lines) if re.search(r'unlink(at)?\(.*\"[^\"]*/repo/pins/media/$id\".*\)\s+= 0', l))
assert any(re.search(r'fsync\(\d+<$T/repo/pins/media>\)\s+= 0', l) for l in lines[i:]), lines[i:]"
