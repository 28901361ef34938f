#!/usr/bin/env bash
# Incremental volume backups (layout 3, docs/FORMAT.md "Volume backups, layout 3"): a tree of
# 20,000 small files and a few large ones; a no-change re-run stores almost nothing; changed,
# added, deleted, renamed and chmod-only files; each backup of the chain restored alone equals
# the tree as it was; a file whose times are at or after the parent's start is read again; a
# same-size change with the old mtime and an xattr change are read (their ctime moved);
# prune of the full backup keeps its children restorable; full-every starts a new full;
# public-key mode through the local cache.
# coffer-targets: local s3
source "$COFFER_TESTS/lib/testlib.sh"

S=$T/src
# 20,000 small files here; 2,000 against S3 (the same paths, fewer round trips)
ndirs=100; [ "${COFFER_TEST_TARGET:-local}" = s3 ] && ndirs=10
python3 - "$S" "$ndirs" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(int(sys.argv[2])):
    p = os.path.join(root, "small", "d%02d" % d)
    os.makedirs(p)
    for f in range(200):
        with open(os.path.join(p, "f%05d" % f), "w") as fh:
            fh.write("file %d/%d %s\n" % (d, f, "x" * (f % 50)))
os.makedirs(os.path.join(root, "big"))
for i in range(3):
    with open(os.path.join(root, "big", "b%d.bin" % i), "wb") as fh:
        fh.write(os.urandom(3 << 20))
PY
ln -s small/d00/f00000 "$S/a-link"
ln "$S/small/d01/f00001" "$S/a-hardlink"
# user xattrs where the file system of the test's directory has them
xattrs=yes; setfattr -n user.coffer -v first "$S/small/d08/f00080" 2>/dev/null || xattrs=no
make_conf "$T/c" "$S"
C="--config $T/c/coffer.conf"
ok "init" backupd $C init

# show FIELD of the newest backup's `catalog show --json`
newest() { catalog $C list --json | python3 -c "import json,sys; print(json.load(sys.stdin)[-1]['$1'])"; }
field() { catalog $C show "$(newest id)" --json | python3 -c "import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
backup() {  # backup NAME: a backup, its id and time, and the tree's fingerprint as it was
    sleep 1.1   # `restore --at` has one-second steps
    ok "backup $1" backupd $C run nightly
    cp "$_err" "$T/log-$1"
    eval "id_$1=\$(newest id) at_$1=\$(newest started)"
    tree_fingerprint "$S" >"$T/fp-$1"
}
restored_equals() {  # restored_equals NAME
    local at; eval "at=\$at_$1"
    rm -rf "$T/out-$1"
    ok "restore of backup $1 alone" restore $C --source media --at "$at" --to "$T/out-$1"
    tree_fingerprint "$T/out-$1" >"$T/fp-out-$1"
    ok "backup $1 restored equals the tree as it was" diff "$T/fp-$1" "$T/fp-out-$1"
}

backup full
check "the first backup is full" test "$(field "r['chain'], r['parent']")" = "(0, None)"
full_stored=$(field "r['bytes_stored']")
backup same
nfiles=$((ndirs * 200 + 4))   # the small ones, 3 large ones, a hard link (always stored)
check "a no-change re-run reads no file" grep -q "files=$nfiles new=0 referenced=$((nfiles - 1))" "$T/log-same"
check "and is an incremental of the full" test "$(field "r['chain'], r['parent']['id']")" = "(1, '$id_full')"
same_stored=$(field "r['bytes_new']") full_in=$(catalog $C show "$id_full" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['bytes_in'])")
check "it stores under 5% of the tree ($same_stored of $full_in bytes: directories and the index)" test $((same_stored * 20)) -lt "$full_in"
check "and references the rest" test "$(field "r['bytes_referenced']")" -gt $((full_stored / 2))

echo changed >>"$S/small/d01/f00010"                      # changed
dd if=/dev/urandom of="$S/big/b1.bin" bs=4096 count=1 seek=10 conv=notrunc status=none
mkdir "$S/small/new"; for i in $(seq 1 30); do echo "new $i" >"$S/small/new/n$i"; done   # added
rm -rf "$S/small/d02"; rm "$S/small/d03/f00007"           # deleted
mv "$S/small/d04/f00030" "$S/small/d04/renamed"           # renamed
chmod 600 "$S/small/d05/f00040"                           # permissions only
backup changed
nfiles=$((nfiles - 201 + 30))
check "only what changed is read (2 changed, 30 added, 1 renamed, 1 chmod)" grep -q "files=$nfiles new=34 referenced=$((nfiles - 35))" "$T/log-changed"

# the walk compares stat alone: a change that keeps size and mtime still moves the ctime, and
# the ctime says that an unchanged file's xattrs and ACLs are unchanged too
python3 - "$S/small/d07/f00070" <<'PY'
import os, sys
p = sys.argv[1]; st = os.stat(p); data = open(p, "rb").read()
open(p, "wb").write(bytes(b ^ 1 for b in data))        # new content, same size
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))         # same mtime, to the nanosecond
n = os.stat(p); assert (n.st_size, n.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
PY
meta_new=1
if [ $xattrs = yes ]; then
    setfattr -n user.coffer -v second "$S/small/d08/f00080"
    meta_new=2
else
    skip "the file system of $T has no user xattrs" "an xattr change is read" \
        "the restore of the xattr change has the new value"
fi
backup meta
check "a same-size, same-mtime change is read (its ctime moved)$([ $xattrs = yes ] && echo ', and so is an xattr change')" \
    grep -q "files=$nfiles new=$meta_new referenced=$((nfiles - meta_new - 1))" "$T/log-meta"

# a file whose times are at or after the parent's start: read again, even unchanged
touch -d "+1 hour" "$S/small/d06/f00050"
backup future
backup again
check "a file changed in the parent's tick (times at or after its start) is read again" grep -q "new=1 referenced=" "$T/log-again"

for b in full same changed meta future again; do restored_equals $b; done
check "the restore of the same-size change has the new content" cmp "$S/small/d07/f00070" "$T/out-meta/small/d07/f00070"
if [ $xattrs = yes ]; then
    check "the restore of the xattr change has the new value" \
        test "$(getfattr --only-values -n user.coffer "$T/out-meta/small/d08/f00080")" = second
    check "and the backup before it the old one" \
        test "$(getfattr --only-values -n user.coffer "$T/out-changed/small/d08/f00080")" = first
fi
ok "catalog verify --all checks every segment held or referenced" catalog $C verify --all
check "verify says ok" grep -q "6 backups verified, 0 damaged" "$_out"

# prune the full backup: its segments that the others reference stay
sed -i "s|^\[source media\]|[source media]\nkeep-last = 5|" "$T/c/coffer.conf"
ok "prune deletes the full backup" catalog $C prune
check "prune says what it freed and what stays" grep -q "^freed [0-9]* bytes; [1-9][0-9]* bytes of removed backups stay" "$_out"
check "the full backup is gone" bash -c "! repo_backups '$T/c' media | grep -q '$id_full'"
restored_equals again   # it references the removed backup's segments
ok "verify of the children after the prune" catalog $C verify --all
check "verify says ok" grep -q "5 backups verified, 0 damaged" "$_out"
ok "verify --quick also finds the referenced objects" catalog $C verify --all --quick
ok "a second prune leaves the referenced data alone" catalog $C prune
ok "verify after the second prune" catalog $C verify --latest

# full-every: a full after N backups of a chain
P=$T/p; mkdir -p "$P/src"; echo one >"$P/src/a"
make_conf "$P" "$P/src"
sed -i "s|^\[source media\]|[source media]\nfull-every = 2|" "$P/coffer.conf"
CP="--config $P/coffer.conf"
backupd $CP init >/dev/null 2>&1
ok "chain: full" backupd $CP run nightly
ok "chain: incremental" backupd $CP run nightly
check "the second is incremental" grep -q "layout=3 parent=2" "$_err"
ok "chain: full-every = 2 starts a new full" backupd $CP run nightly
check "the third is full" grep -q "layout=3 parent=none" "$_err"
check "and says why" grep -q 'reason="full-every"' "$_err"
sed -i "s|^full-every = 2|full-every = 2\nincremental = no|" "$P/coffer.conf"
ok "incremental = no: a layout 1 backup" backupd $CP run nightly
sed -i "/^incremental = no$/d" "$P/coffer.conf"
ok "after a layout 1 backup" backupd $CP run nightly
check "the next is a full one, and says why" grep -q "the newest backup is not incremental-ready (layout 1)" "$_err"
ok "the new full restores" restore $CP --source media --at now --to "$P/out"
check "the restored tree is the source" diff -r "$P/src" "$P/out"

# public-key mode: the parent's index comes from the local cache
K=$T/k; mkdir -p "$K/src"; cp -a "$S/small/d00" "$K/src/"
ok "keygen" backupd keygen --public "$K/repo.pub" --secret "$K/repo.sec"
make_conf "$K" "$K/src"
sed -i "s|^key-file = .*|public-key-file = $K/repo.pub|" "$K/coffer.conf"
CK="--config $K/coffer.conf"
backupd $CK init >/dev/null 2>&1
ok "public-key: full" backupd $CK run nightly
check "the index is cached beside the catalog, private" test "$(stat -c %a "$K/media.index")" = 600
echo more >"$K/src/d00/f00001"
ok "public-key: incremental from the cache" backupd $CK run nightly
check "it read one file" grep -q "files=200 new=1 referenced=199" "$_err"
tree_fingerprint "$K/src" >"$K/fp"
ok "public-key: restore" restore $CK --secret-key-file "$K/repo.sec" --source media --at now --to "$K/out"
tree_fingerprint "$K/out" >"$K/fp-out"
ok "public-key: restored equals the source" diff "$K/fp" "$K/fp-out"
echo '{"id":"20200101T000000Z-000aaaaa","entries":[]}' >"$K/media.index"
ok "public-key: a cache of another backup is not used" backupd $CK run nightly
check "the backup is full and says why" grep -q "the cached index .* is of backup 20200101T000000Z-000aaaaa" "$_err"

# a referenced segment removed by hand: verify names it (quick and full), restore fails cleanly
repo_get "$T/c" "backups/media/$id_again/refs" "$T/refs.json"
ref=$(python3 -c "import json,sys; g=json.load(open(sys.argv[1]))['refs'][0]; print('backups/media/%s/data/%08d' % (g['id'], g['n'][0]))" "$T/refs.json")
repo_rm "$T/c" "$ref"
fails "verify --quick names the missing referenced object" 1 "which it references" catalog $C verify "$id_again" --quick
fails "verify names it too" 1 "object" catalog $C verify "$id_again"
fails "restore fails and says why" 1 "object" restore $C --source media --at "$at_again" --to "$T/out-broken"
check "nothing half-restored is left at the destination" test ! -e "$T/out-broken"
