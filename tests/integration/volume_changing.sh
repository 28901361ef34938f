#!/usr/bin/env bash
# Files that change or vanish while being read are warnings recorded in the manifest, not
# failures; and restore --at picks the newest backup at or before the time asked for.
# coffer-targets: local s3
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src/churn"
echo "stable" >"$T/src/stable"
make_conf "$T/c" "$T/src"
C="--config $T/c/coffer.conf"
ok "init" backupd $C init

# A file that announces 4096 bytes and yields fewer: a sysfs attribute bind-mounted into the tree.
sysfile=/sys/kernel/mm/transparent_hugepage/enabled
[ -r "$sysfile" ] || sysfile=$(find /sys/kernel -maxdepth 2 -type f -size 4k -readable 2>/dev/null | head -1)
: >"$T/src/shrinks"
if [ -n "$sysfile" ] && mount --bind "$sysfile" "$T/src/shrinks" 2>/dev/null; then
    on_exit "umount '$T/src/shrinks'"
    ok "a file that shrinks while read is backed up" backupd $C run nightly
    check "with a warning in the log" grep -q "'shrinks' shrank while being read" "$_err"
    check "and the summary says so" grep -q "with warnings" "$_out"
    id=$(repo_backups "$T/c" media | tail -1)
    ok "catalog show" catalog $C show "$id" --json
    check "the manifest records the warning" python3 -c "
import json; i=json.load(open('$_out'))['info']; assert i['warning_count']>=1 and any('shrinks' in w for w in i['warnings']), i"
    ok "that backup verifies" catalog $C verify "$id"
    umount "$T/src/shrinks"
else
    echo "not ok - bind mount unavailable: the shrinking-file test cannot run"
fi

# Files deleted and rewritten while the backup walks the tree: never a failure.
for i in $(seq 1 3000); do echo "$i" >"$T/src/churn/f$i"; done
( for round in 1 2 3 4 5 6 7 8; do
      for i in $(seq 1 3000); do rm -f "$T/src/churn/f$i"; done
      for i in $(seq 1 3000); do echo "round $round $i" >"$T/src/churn/f$i"; done
  done ) &
churn=$!
on_exit "kill $churn"
ok "backup while files vanish and reappear" backupd $C run nightly
kill "$churn" 2>/dev/null; wait "$churn" 2>/dev/null
ok "it verifies" catalog $C verify --all

# restore --at: three backups a second apart, each with a different file
rm -rf "$T/src/churn"
for v in one two three; do
    echo "$v" >"$T/src/version"
    ok "backup '$v'" backupd $C run nightly
    ids+=("$(repo_backups "$T/c" media | tail -1)")
    sleep 1.1
done
t_two=$(python3 -c "
import datetime; s='${ids[1]}'[:16]
print(datetime.datetime.strptime(s,'%Y%m%dT%H%M%SZ').strftime('%Y-%m-%dT%H:%M:%SZ'))")
ok "restore --at the second backup's time" restore $C --source media --at "$t_two" --to "$T/r2"
check "gives the second version" grep -qx two "$T/r2/version"
t_two_local=$(python3 -c "
import datetime; s='${ids[1]}'[:16]
d=datetime.datetime.strptime(s,'%Y%m%dT%H%M%SZ')+datetime.timedelta(hours=2)
print(d.strftime('%Y-%m-%dT%H:%M:%S')+'+02:00')")
ok "the same time written with an offset" restore $C --source media --at "$t_two_local" --to "$T/r2b"
check "gives the same backup" grep -qx two "$T/r2b/version"
ok "restore --at latest" restore $C --source media --at latest --to "$T/r3"
check "gives the newest" grep -qx three "$T/r3/version"
