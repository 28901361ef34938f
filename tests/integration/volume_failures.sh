#!/usr/bin/env bash
# Bad input and broken environments: each gives a clear error and the right exit code, and
# nothing is lost or left half-written.
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src/d"; echo data >"$T/src/d/f"; head -c 3000000 /dev/urandom >"$T/src/big"
make_local_conf "$T/c" "$T/src"
C="--config $T/c/coffer.conf"
ok "init" backupd $C init
fails "init twice is refused" 1 "a repository already exists" backupd $C init
ok "first backup" backupd $C run nightly
first=$(ls "$T/c/repo/backups/media")

# --- configuration and command line ---
sed '/^\[job nightly\]/a colour = blue' "$T/c/coffer.conf" >"$T/bad.conf"
fails "unknown key: exit 2, file and line" 2 "bad.conf:12: [job nightly] unknown key 'colour'" backupd --config "$T/bad.conf" check-config
printf '[repository\n' >"$T/bad2.conf"
fails "malformed section header" 2 "bad2.conf:1: section header without ']'" backupd --config "$T/bad2.conf" run nightly
fails "missing configuration file" 2 "unable to read configuration" backupd --config "$T/nope.conf" run nightly
fails "unknown job" 2 "no [job weekly]" backupd $C run weekly
fails "unknown command" 2 "unknown command 'backup'" backupd $C backup
fails "bad --at" 2 "'yesterday' is not a time" restore $C --source media --at yesterday --to "$T/r"
fails "impossible date" 2 "is not a time" restore $C --source media --at 2026-02-30T00:00:00Z --to "$T/r"
fails "restore without --to" 2 "give --to DIR" restore $C --source media --at now
fails "unknown source" 2 "no [source nope]" restore $C --source nope --at now --to "$T/r"
fails "--at before the first backup" 1 "no complete backup at or before 2001-01-01T00:00:00Z" restore $C --source media --at 2001-01-01T00:00:00Z --to "$T/r"
echo "i am a file" >"$T/afile"
fails "restore target that is a file" 2 "exists and is not a directory" restore $C --source media --at now --to "$T/afile"
check "the file is untouched" grep -q "i am a file" "$T/afile"

# --- keys ---
chmod 644 "$T/c/repo.key"
fails "key file readable by others is refused" 2 "readable by group or others (mode 0644)" backupd $C run nightly
chmod 600 "$T/c/repo.key"
cp "$T/c/repo.key" "$T/good.key"
head -c 32 /dev/urandom >"$T/c/repo.key"
fails "wrong key" 1 "wrong key" restore $C --source media --at now --to "$T/r"
fails "wrong key cannot write either" 1 "wrong key" backupd $C run nightly
cp "$T/good.key" "$T/c/repo.key"

# --- source trouble ---
mv "$T/src" "$T/src.away"
fails "missing source directory" 1 "source 'media'" backupd $C run nightly
mv "$T/src.away" "$T/src"
check "a failed backup lists nothing new" bash -c "[ \$(ls '$T/c/repo/backups/media' | wc -l) = 1 ]"

# --- damage in the repository ---
ok "second backup" backupd $C run nightly
second=$(ls "$T/c/repo/backups/media" | grep -v "$first")
obj="$T/c/repo/backups/media/$second/data/00000000"
cp "$obj" "$T/obj.bak"
printf 'X' | dd of="$obj" bs=1 seek=2000 conv=notrunc status=none
fails "restore of a damaged backup fails and says why" 1 "fails authentication" restore $C --source media --at now --to "$T/r"
check "nothing at the destination" test ! -e "$T/r"
check "no partial directory left" bash -c "! ls -a '$T' | grep -q coffer-partial"
cp "$T/obj.bak" "$obj"; truncate -s 1000 "$obj"
fails "truncated object" 1 "truncated" restore $C --source media --at now --to "$T/r"
cp "$T/obj.bak" "$obj"
ok "repaired object restores" restore $C --source media --at now --to "$T/r"
ok "and matches" diff -r "$T/src" "$T/r"
printf 'X' | dd of="$obj" bs=1 seek=2000 conv=notrunc status=none
fails "verify finds the altered object" 1 "" catalog $C verify --all
check "verify names the object" grep -q "media/$second: DAMAGED: object 0 ('backups/media/$second/data/00000000')" "$_out"
check "the other backup is fine" grep -q "media/$first: ok" "$_out"
ok "once verify has found it, restore --at passes over it" restore $C --source media --at now --to "$T/r2"
check "saying why" grep -q "skipping damaged backup media/$second" "$_err"
check "and restores the backup before it" grep -q "backup   $first" "$_out"
ok "catalog at agrees" catalog $C at now --source media
check "on the same backup" grep -q "$first" "$_out"
cp "$T/obj.bak" "$obj"

# --- disk full ---
mkdir -p "$T/small"
if mount -t tmpfs -o size=1m tmpfs "$T/small" 2>/dev/null; then
    on_exit "umount '$T/small'"
    fails "disk full during restore" 1 "No space left on device" restore $C --source media --at now --to "$T/small/r"
    check "nothing left on the full disk" bash -c "[ -z \"\$(ls -A '$T/small')\" ]"
    sed "s|^path = $T/c/repo|path = $T/small/repo|" "$T/c/coffer.conf" >"$T/small.conf"
    ok "init on a small disk" backupd --config "$T/small.conf" init
    fails "disk full during backup" 1 "No space left on device" backupd --config "$T/small.conf" run nightly
    ok "catalog still lists" catalog --config "$T/small.conf" list
    check "no partial backup listed" grep -q "no backups" "$_out"
    check "no objects left behind" bash -c "[ -z \"\$(find '$T/small/repo/backups' -type f 2>/dev/null)\" ]"
else
    echo "not ok - tmpfs mount unavailable: disk-full tests cannot run"
fi
