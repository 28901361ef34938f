#!/usr/bin/env bash
# A directory tree with every kind of entry, plus /usr/share/doc, backed up and restored: same
# contents and metadata; excludes honoured; the repository shows none of the data.
# coffer-targets: local s3
source "$COFFER_TESTS/lib/testlib.sh"

make_rich_tree "$T/src"
cp -a /usr/share/doc "$T/src/doc"
marker="COFFER-MARKER-$RANDOM-$RANDOM-PLAINTEXT"
for i in $(seq 1 2000); do echo "$marker line $i"; done >"$T/src/marker.txt"
make_conf "$T/c" "$T/src"
sed -i "s|^path = $T/src|path = $T/src\nexclude = *.tmp\nexclude = cache/|" "$T/c/coffer.conf"
C="--config $T/c/coffer.conf"

ok "init creates the repository" backupd $C init
only_on local "an s3 store has no file modes" check "repository files are private" bash -c "[ \$(stat -c %a '$T/c/repo/repo.json') = 600 ] && [ \$(stat -c %a '$T/c/repo') = 700 ]"
ok "backup runs" backupd $C run nightly
check "backup prints a summary line" grep -q "media: backup .* done: in .* stored .* ratio" "$_out"
only_on local "an s3 store has no file modes" check "data objects are private" bash -c "! find '$T/c/repo' -type f ! -perm 600 | grep -q ."
ok "every object of the repository is read" repo_dump "$T/c" "$T/dump"
check "which holds the stored bytes" test "$(stat -c %s "$T/dump")" -gt 20000000
fails "grepping the repository finds no source data" 1 "" grep -a -l -F "$marker" "$T/dump"
fails "file names do not appear either" 1 "" grep -a -l -F "hello.txt" "$T/dump"
repo_keys "$T/c" >"$T/keys"
check "the backup's objects are listed" grep -q "^backups/media/.*/data/" "$T/keys"
fails "nor in object names" 1 "" grep -F -e hello.txt -e "$marker" "$T/keys"
rm -f "$T/dump"

ok "catalog list" catalog $C list
check "catalog list shows the backup as complete" grep -q "media .* volume .* complete" "$_out"
ok "catalog list --json" catalog $C list --json
check "json has the documented fields" python3 -c "
import json,sys; rows=json.load(open('$_out')); r=rows[0]
need={'id','source','kind','started','finished','bytes_in','bytes_stored','status'}
assert len(rows)==1 and need <= set(r), r
assert r['status']=='complete' and r['kind']=='volume' and r['source']=='media'
assert r['started'].endswith('Z') and r['bytes_in']>20000000"
id=$(python3 -c "import json; print(json.load(open('$_out'))[0]['id'])")
ok "catalog show" catalog $C show "$id" --json
check "show has the objects and the volume info" python3 -c "
import json; r=json.load(open('$_out')); assert r['object_list'] and r['info']['files']>5"
ok "catalog verify reads every object" catalog $C verify "$id"
check "verify says ok" grep -q "1 backups verified, 0 damaged" "$_out"

ok "restore --dry-run" restore $C --source media --at now --to "$T/out" --dry-run
check "dry run prints the plan" grep -q "restore plan (dry run" "$_out"
check "dry run changes nothing" test ! -e "$T/out"
ok "restore --at now" restore $C --source media --at now --to "$T/out"

# drop what was excluded from the reference, keeping the directories' times as they were
m_nested=$(stat -c %Y "$T/src/nested")
rm -f "$T/src/scratch.tmp" "$T/src/nested/other.tmp"; rm -rf "$T/src/cache"
touch -d "@$m_nested" "$T/src/nested"
tree_fingerprint "$T/src" >"$T/fp-src"
tree_fingerprint "$T/out" >"$T/fp-out"
ok "restored tree equals the source (content, modes, owners, times, links, xattrs, ACLs)" diff "$T/fp-src" "$T/fp-out"
check "excluded files are not restored" bash -c "[ ! -e '$T/out/scratch.tmp' ] && [ ! -e '$T/out/nested/other.tmp' ] && [ ! -e '$T/out/cache' ]"
check "sparse file stays sparse" bash -c "[ \$(du -k '$T/out/sparse.img' | cut -f1) -lt 10000 ]"
check "the fifo is a fifo" test -p "$T/out/a-fifo"
check "non-UTF-8 name kept byte for byte" test -f "$T/out/$(printf 'caf\xe9-\xff\xfe')"
check "no partial directory left" bash -c "! ls -a '$T' | grep -q coffer-partial"

fails "restore refuses a non-empty directory" 2 "is not empty" restore $C --source media --at latest --to "$T/out"
ok "restore --force replaces it" restore $C --source media --at latest --to "$T/out" --force
check "the old contents were moved aside, not deleted" bash -c "ls -d '$T'/out.coffer-old-* >/dev/null"
tree_fingerprint "$T/out" >"$T/fp-out2"
ok "forced restore equals the source" diff "$T/fp-src" "$T/fp-out2"
