#!/usr/bin/env bash
# Bad input and broken environments: each gives a clear error and the right exit code, and
# nothing is lost or left half-written.
# coffer-targets: local s3
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src/d"; echo data >"$T/src/d/f"; head -c 3000000 /dev/urandom >"$T/src/big"
make_conf "$T/c" "$T/src"
# every backup full (layout 3): the damage below is to a whole segment of the tree
sed -i "s|^\\[source media\\]|[source media]\\nfull-every = 1|" "$T/c/coffer.conf"
C="--config $T/c/coffer.conf"
ok "init" backupd $C init
fails "init twice is refused" 1 "a repository already exists" backupd $C init
ok "first backup" backupd $C run nightly
first=$(repo_backups "$T/c" media)

# --- configuration and command line ---
sed '/^\[job nightly\]/a colour = blue' "$T/c/coffer.conf" >"$T/bad.conf"
line=$(grep -n '^colour' "$T/bad.conf" | cut -d: -f1)
fails "unknown key: exit 2, file and line" 2 "bad.conf:$line: [job nightly] unknown key 'colour'" backupd --config "$T/bad.conf" check-config
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
fails "wrong key" 2 "wrong key" restore $C --source media --at now --to "$T/r"
fails "wrong key cannot write either" 2 "wrong key" backupd $C run nightly
cp "$T/good.key" "$T/c/repo.key"

# --- source trouble ---
mv "$T/src" "$T/src.away"
fails "missing source directory" 1 "source 'media'" backupd $C run nightly
mv "$T/src.away" "$T/src"
check "a failed backup lists nothing new" test "$(repo_backups "$T/c" media)" = "$first"

# --- damage in the repository ---
ok "second backup" backupd $C run nightly
second=$(repo_backups "$T/c" media | grep -v "$first")
obj="backups/media/$second/data/00000000"
ok "the second backup's first object is read" repo_get "$T/c" "$obj" "$T/obj.bak"
cp "$T/obj.bak" "$T/obj.bad"
printf 'X' | dd of="$T/obj.bad" bs=1 seek=2000 conv=notrunc status=none
head -c 1000 "$T/obj.bak" >"$T/obj.short"
ok "one byte of it is altered" repo_put "$T/c" "$obj" "$T/obj.bad"
fails "restore of a damaged backup fails and says why" 1 "fails authentication" restore $C --source media --at now --to "$T/r"
check "nothing at the destination" test ! -e "$T/r"
check "no partial directory left" bash -c "! ls -a '$T' | grep -q coffer-partial"
ok "it is cut to 1000 bytes" repo_put "$T/c" "$obj" "$T/obj.short"
fails "truncated object" 1 "truncated" restore $C --source media --at now --to "$T/r"
ok "it is deleted" repo_rm "$T/c" "$obj"
fails "a missing object is named" 1 "object 0 ('$obj') of backup media/$second: missing from the repository" restore $C --source media --at now --to "$T/r"
check "nothing at the destination" test ! -e "$T/r"
ok "the first backup's object 0 is read" repo_get "$T/c" "backups/media/$first/data/00000000" "$T/obj.other"
ok "and put in its place" repo_put "$T/c" "$obj" "$T/obj.other"
fails "an object of another backup is refused" 1 "object belongs to backup '$first', not '$second'" restore $C --source media --at now --to "$T/r"
check "nothing at the destination" test ! -e "$T/r"
ok "it is put back" repo_put "$T/c" "$obj" "$T/obj.bak"
ok "repaired object restores" restore $C --source media --at now --to "$T/r"
ok "and matches" diff -r "$T/src" "$T/r"
ok "it is altered again" repo_put "$T/c" "$obj" "$T/obj.bad"
fails "verify finds the altered object" 1 "" catalog $C verify --all
check "verify names the object" grep -qF "media/$second: DAMAGED: object 0 ('$obj')" "$_out"
check "the other backup is fine" grep -q "media/$first: ok" "$_out"
ok "once verify has found it, restore --at passes over it" restore $C --source media --at now --to "$T/r2"
check "saying why" grep -q "skipping damaged backup media/$second" "$_err"
check "and restores the backup before it" grep -q "backup   $first" "$_out"
ok "catalog at agrees" catalog $C at now --source media
check "on the same backup" grep -q "$first" "$_out"
ok "and put back" repo_put "$T/c" "$obj" "$T/obj.bak"

# --- disk full ---
# restoring onto a full disk: on either target; a full disk under the repository: local only;
# its object-store counterpart, a full bucket (a quota): s3 only
mkdir -p "$T/small"
if mount -t tmpfs -o size=1m tmpfs "$T/small" 2>/dev/null; then
    on_exit "umount '$T/small'"
    fails "disk full during restore" 1 "No space left on device" restore $C --source media --at now --to "$T/small/r"
    check "nothing left on the full disk" bash -c "[ -z \"\$(ls -A '$T/small')\" ]"
    if [ "$COFFER_TEST_TARGET" = local ]; then
        sed "s|^path = $T/c/repo|path = $T/small/repo|" "$T/c/coffer.conf" >"$T/small.conf"
        ok "init on a small disk" backupd --config "$T/small.conf" init
        fails "disk full during backup" 1 "No space left on device" backupd --config "$T/small.conf" run nightly
        ok "catalog still lists" catalog --config "$T/small.conf" list
        check "no partial backup listed" grep -q "no backups" "$_out"
        check "no objects left behind" bash -c "[ -z \"\$(find '$T/small/repo/backups' -type f 2>/dev/null)\" ]"
    else
        skip "a full file system under the repository: local target only" "init on a small disk" \
            "disk full during backup" "catalog still lists" "no partial backup listed" "no objects left behind"
    fi
else
    echo "not ok - tmpfs mount unavailable: disk-full tests cannot run"
fi
if [ "$COFFER_TEST_TARGET" = s3 ]; then
    # a bucket with a 1 MiB quota and a backup of 12 MB (two and a bit 5 MiB parts)
    full=coffer-full-$(printf '%s' "${T##*.}" | tr 'A-Z' 'a-z')
    ok "a bucket with a quota of 1 MiB" ceph_bucket_quota "$full" 1M
    on_exit "S3_BUCKET=$full _s3_purge ''; s3_curl -X DELETE '$S3_ENDPOINT/$full'"
    mkdir -p "$T/bigsrc"; head -c 12000000 /dev/urandom >"$T/bigsrc/big"
    sed -e "s|^bucket = .*|bucket = $full|" -e "s|^path = $T/src\$|path = $T/bigsrc|" \
        "$T/c/coffer.conf" >"$T/full.conf"
    ok "init in the small bucket" backupd --config "$T/full.conf" init
    fails "bucket full during backup" 1 "QuotaExceeded" backupd --config "$T/full.conf" run nightly
    check "the error says so, not that access is denied" bash -c "! grep 'access denied' '$_err' >&2"
    ok "catalog still lists" catalog --config "$T/full.conf" list
    check "no partial backup listed" grep -q "no backups" "$_out"
    S3_BUCKET=$full check "no objects left behind" repo_none "$T/c" backups/
    check "no multipart upload left open" test "$(s3_open_uploads "$full")" = 0
else
    skip "a bucket quota: s3 target only" "a bucket with a quota of 1 MiB" "init in the small bucket" \
        "bucket full during backup" "the error says so, not that access is denied" "catalog still lists" \
        "no partial backup listed" "no objects left behind" "no multipart upload left open"
fi
