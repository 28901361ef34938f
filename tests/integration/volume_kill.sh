#!/usr/bin/env bash
# backupd killed with SIGKILL in the middle of a stream: no partial backup is listed, earlier
# backups still verify, the next backup works.
# coffer-targets: local s3
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src"
echo small >"$T/src/small"
OBJECT_SIZE=1MiB make_conf "$T/c" "$T/src"
C="--config $T/c/coffer.conf"
ok "init" backupd $C init
ok "a first, complete backup" backupd $C run nightly
first=$(repo_backups "$T/c" media)

# 600 MB that does not compress: several seconds of objects; a throttled reader keeps it slow
for i in 1 2 3 4 5 6; do head -c 100000000 /dev/urandom >"$T/src/r$i"; done
backupd $C --quiet run nightly >/dev/null 2>&1 &
pid=$!
killed=no
for _ in $(seq 1 400); do
    n=$(repo_keys "$T/c" backups/media/ | grep '/data/' | grep -vc "^backups/media/$first/")
    if [ "$n" -ge 3 ]; then kill -9 "$pid"; killed=yes; break; fi
    sleep 0.02
done
wait "$pid" 2>/dev/null
check "backupd was killed mid-stream (after 3 objects)" test "$killed" = yes
ok "catalog list after the kill" catalog $C list --json
check "only the first backup is listed" python3 -c "
import json; rows=json.load(open('$_out')); assert [r['id'] for r in rows]==['$first'], rows"
ok "the earlier backup still verifies" catalog $C verify --all
check "and nothing is damaged" grep -q "1 backups verified, 0 damaged" "$_out"
ok "restore --at latest gives the first backup" restore $C --source media --at latest --to "$T/r"
check "which holds the small file only" bash -c "[ -f '$T/r/small' ] && [ ! -e '$T/r/r1' ]"
rm -f "$T"/src/r[3-6]
ok "the next backup works" backupd $C run nightly
ok "two backups now verify" catalog $C verify --all
check "both ok" grep -q "2 backups verified, 0 damaged" "$_out"
