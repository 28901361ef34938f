#!/usr/bin/env bash
# format_doc.sh - docs/FORMAT.md is precise enough for another program: tests/lib/coffer_reader.py,
# written from the doc alone (python3's standard library, libsodium through ctypes, the zstd
# command), reads backups that bin/backupd wrote in all three key modes, with the key files in
# each form the doc allows, and the numbers the doc states (the header's length, the size of a
# full object, the manifest example's 64 MiB object, bytes_in and bytes_stored, the volume's
# root entry and xattrs) are checked against what the code writes.
source "$COFFER_TESTS/lib/testlib.sh"
reader="$COFFER_TESTS/lib/coffer_reader.py"
doc="$COFFER_TESTS/../docs/FORMAT.md"
MiB=1048576

# a volume with an incompressible file of 2.5 MiB (several objects of 1 MiB), text, a
# subdirectory, a hard link, a symlink and an xattr holding a NUL and a non-UTF-8 byte
src="$T/src"
mkdir -p "$src/sub"
head -c $((5 * MiB / 2)) /dev/urandom >"$src/random.bin"
seq 1 20000 >"$src/sub/numbers.txt"
ln "$src/sub/numbers.txt" "$src/hardlink.txt"
ln -s sub/numbers.txt "$src/symlink"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.coffer", b"v\x00\xff")' "$src/random.bin"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.a=b%c", b"1")' "$src/sub/numbers.txt"

# conf DIR KEY-LINE OBJECT-SIZE: a local repository in DIR, its key given by KEY-LINE
conf() {
    OBJECT_SIZE=$3 make_local_conf "$1" "$src"
    rm -f "$1/repo.key"
    sed -i "s|^key-file = .*|$2|" "$1/coffer.conf"
    # layout 1, the stream these checks read (layout 3 is read at the end)
    sed -i "s|^\[source media\]|[source media]\nincremental = no|" "$1/coffer.conf"
}
# backup DIR: run the job, print the new backup's id
backup() {
    backupd --config "$1/coffer.conf" run nightly >/dev/null 2>"$1/run.err" || { cat "$1/run.err" >&2; return 1; }
    ls "$1/repo/backups/media" | tail -n 1
}
# alt DIR OPTION FILE: DIR/alt.conf, DIR's configuration with OPTION = FILE
alt() { sed "s|^$2 = .*|$2 = $3|" "$1/coffer.conf" >"$1/alt.conf"; echo "$1/alt.conf"; }
# refused WHAT NEEDLE CMD...: CMD fails (the exit code per kind of failure is another issue's
# business) and its stderr has NEEDLE
refused() {
    local what=$1 needle=$2; shift 2
    if "$@" >"$_out" 2>"$_err"; then
        echo "not ok - $what (exit 0)"
    elif grep -qF -- "$needle" "$_err"; then
        echo "ok - $what"
    else
        echo "not ok - $what (no '$needle' on stderr)"; sed 's/^/#   stderr: /' "$_err"
    fi
}
# j FILE EXPR: a python expression over the reader's output r
j() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

# read_mode NAME DIR KEYFILE-FOR-READER W: back up, read with the reader, check the layout
read_mode() {
    local name=$1 d=$2 key=$3 W=$4 id out
    id=$(backup "$d") || { echo "not ok - $name: backup"; return; }
    out="$d/read.json"
    ok "$name: the reader written from FORMAT.md reads the backup" \
        python3 "$reader" "$d/repo" "$key" media "$id" "$out" "$d/extracted"
    [ -s "$out" ] || return
    check "$name: every file read equals the source" \
        cmp "$src/random.bin" "$d/extracted/random.bin"
    check "$name: header is 41+L+W bytes (end excluded), L = 25, W = $W" \
        test "$(j "$out" 'sorted({o["H"] for o in r["objects"]} | {r["manifest_header"]["H"]})')" = "[$((41 + 25 + W))]"
    check "$name: every object, the manifest included, carries the same wrapped data key" \
        test "$(j "$out" 'len({o["wrapped"] for o in r["objects"]} | {r["manifest_header"]["wrapped"]})')" = 1
    check "$name: a full object is H + (object_size / 1 MiB) messages of 4 + 1 MiB + 17 bytes" \
        test "$(j "$out" 'r["objects"][0]["size"]')" -eq $((41 + 25 + W + 1 * (4 + MiB + 17)))
    check "$name: the backup has several objects, each but the last full" \
        test "$(j "$out" 'len(r["objects"]) >= 3 and all(len(o["messages"]) == 1 and o["messages"][0][0] == 1048576 for o in r["objects"][:-1])')" = True
    check "$name: bytes_stored is the sum of the data objects' sizes (manifest not counted)" \
        test "$(j "$out" 'r["manifest"]["bytes_stored"] == sum(o["size"] for o in r["objects"]) == sum(o["size"] for o in r["manifest"]["objects"])')" = True
    check "$name: bytes_in is the sum of the parts' bytes (before compression)" \
        test "$(j "$out" 'r["manifest"]["bytes_in"] == sum(p["bytes"] for p in r["parts"]) == sum(p["bytes"] for p in r["manifest"]["parts"])')" = True
}

# --- keyfile: 32 raw bytes; then the same key as upper-case hex with CR LF CR LF ----------
conf "$T/kf" "key-file = $T/kf/repo.key" 1MiB
ok "keyfile: init with a generated key" backupd --config "$T/kf/coffer.conf" init --generate-key "$T/kf/repo.key"
check "keyfile: the generated key file is 32 raw bytes" test "$(stat -c %s "$T/kf/repo.key")" -eq 32
read_mode keyfile "$T/kf" "$T/kf/repo.key" 72
out="$T/kf/read.json"
check "the volume's root entry is './'" test "$(j "$out" 'r["entries"][0]["name"] + "|" + r["entries"][0]["raw_name"]')" = ".|./"
check "entries below the root are relative paths without './'" \
    test "$(j "$out" 'sorted(e["raw_name"] for e in r["entries"][1:])')" = "['hardlink.txt', 'random.bin', 'sub/', 'sub/numbers.txt', 'symlink']"
check "an xattr is written twice: LIBARCHIVE.xattr.* base64 and SCHILY.xattr.* raw" \
    test "$(j "$out" '[(e["xattr_libarchive"], e["xattr_schily"]) for e in r["entries"] if e["raw_name"] == "random.bin"][0]')" = "({'user.coffer': '7600ff'}, {'user.coffer': '7600ff'})"
check "an xattr's name is URL-encoded in both keys, its value base64 without padding" \
    test "$(j "$out" '[(e["xattr_libarchive"], e["xattr_schily"]) for e in r["entries"] if e["raw_name"] == "sub/numbers.txt"][0]')" = "({'user.a%3Db%25c': '31'}, {'user.a%3Db%25c': '31'})"
check "a volume is one part named 'volume'" test "$(j "$out" 'r["parts"]')" = "[{'name': 'volume', 'bytes': $(j "$out" 'r["parts"][0]["bytes"]')}]"
{ od -An -tx1 "$T/kf/repo.key" | tr -d ' \n' | tr a-f A-F; printf '\r\n\r\n'; } >"$T/kf/repo.hex"
chmod 600 "$T/kf/repo.hex"
ok "keyfile: upper-case hex with trailing CR LF CR LF opens the repository (coffer)" \
    catalog --config "$(alt "$T/kf" key-file "$T/kf/repo.hex")" list
ok "keyfile: and the reader" python3 "$reader" "$T/kf/repo" "$T/kf/repo.hex" media "$(ls "$T/kf/repo/backups/media" | tail -n 1)" "$T/kf/hex.json"
{ od -An -tx1 "$T/kf/repo.key" | tr -d ' \n'; printf ' \n'; } >"$T/kf/repo.sp"
chmod 600 "$T/kf/repo.sp"
refused "keyfile: hex followed by a space is not a key" "is not a key" \
    catalog --config "$(alt "$T/kf" key-file "$T/kf/repo.sp")" list

# --- passphrase: the file ends CR LF; one LF then one CR is dropped ------------------------
conf "$T/pp" "passphrase-file = $T/pp/pass" 1MiB
printf 'correct horse\r\n' >"$T/pp/pass"; chmod 600 "$T/pp/pass"
ok "passphrase: init" backupd --config "$T/pp/coffer.conf" init
read_mode passphrase "$T/pp" "$T/pp/pass" 72
printf 'correct horse' >"$T/pp/pass.bare"; chmod 600 "$T/pp/pass.bare"
ok "passphrase: the same passphrase without CR LF opens it (coffer)" \
    catalog --config "$(alt "$T/pp" passphrase-file "$T/pp/pass.bare")" list
printf 'correct horse\n\n' >"$T/pp/pass.2lf"; chmod 600 "$T/pp/pass.2lf"
refused "passphrase: two trailing LF leave one in the passphrase: wrong key" "wrong key" \
    catalog --config "$(alt "$T/pp" passphrase-file "$T/pp/pass.2lf")" list

# --- public: the secret key file as keygen writes it (hex + LF) and as 32 raw bytes -------
mkdir -p "$T/pk"
backupd keygen --public "$T/pk/repo.pub" --secret "$T/pk/repo.sec" 2>/dev/null
conf "$T/pk" "public-key-file = $T/pk/repo.pub" 1MiB
ok "public: init" backupd --config "$T/pk/coffer.conf" init
read_mode public "$T/pk" "$T/pk/repo.sec" 80
python3 -c 'import sys; open(sys.argv[2], "wb").write(bytes.fromhex(open(sys.argv[1]).read().strip()))' "$T/pk/repo.sec" "$T/pk/repo.raw"
chmod 600 "$T/pk/repo.raw"
ok "public: the secret key as 32 raw bytes opens it (coffer)" \
    catalog --config "$T/pk/coffer.conf" verify --latest --secret-key-file "$T/pk/repo.raw"
backupd keygen --public "$T/pk/other.pub" --secret "$T/pk/other.sec" 2>/dev/null
refused "public: another secret key is named as such, not as damage (coffer)" "does not belong to this repository's public key" \
    restore --config "$T/pk/coffer.conf" --secret-key-file "$T/pk/other.sec" --source media --at latest --to "$T/pk/x"
fails "public: and by the reader (crypto_scalarmult_base(sk) != public_key)" 1 "wrong secret key" \
    python3 "$reader" "$T/pk/repo" "$T/pk/other.sec" media "$(ls "$T/pk/repo/backups/media" | tail -n 1)" "$T/pk/x.json"

# --- a data object beyond the manifest's list is not read, and not damage -----------------
id=$(ls "$T/kf/repo/backups/media" | tail -n 1)
n=$(ls "$T/kf/repo/backups/media/$id/data" | wc -l)
cp "$T/kf/repo/backups/media/$id/data/00000000" "$T/kf/repo/backups/media/$id/data/$(printf %08d "$n")"
ok "an object beyond the manifest's list: verify passes" catalog --config "$T/kf/coffer.conf" verify "$id"
ok "an object beyond the manifest's list: restore works" restore --config "$T/kf/coffer.conf" --source media --at latest --to "$T/kf/beyond"

# --- the manifest example: its 64 MiB object's size is what the code writes ----------------
# 65 MiB of random data in keyfile mode: object 0 is full (64 messages of 1 MiB)
mkdir -p "$T/big/src"
head -c $((65 * MiB)) /dev/urandom >"$T/big/src/blob"
src="$T/big/src" conf "$T/big" "key-file = $T/big/repo.key" 64MiB
ok "64 MiB objects: init" backupd --config "$T/big/coffer.conf" init --generate-key "$T/big/repo.key"
id=$(backup "$T/big")
doc_size=$(grep -o '"objects": \[ { "n": 0, "size": [0-9]*' "$doc" | grep -o '[0-9]*$')
doc_formula=$(grep -o '[0-9][0-9 +*]* = 67110346 bytes' "$doc" | head -n 1)
check "FORMAT.md's manifest example gives a size for its 64 MiB object" test -n "$doc_size"
check "that size is what backupd writes for a full 64 MiB object in keyfile mode" \
    test "$(stat -c %s "$T/big/repo/backups/media/$id/data/00000000")" = "$doc_size"
check "FORMAT.md's arithmetic for it adds up" test "$(( ${doc_formula%%=*} ))" = "$doc_size"

# --- logs/: a WAL segment of 2.5 MiB compressed, archived in keyfile and public mode --------
seg=00000001000000000000002A
head -c $((5 * MiB / 2)) /dev/urandom >"$T/$seg"
head -c $((13 * MiB + MiB / 2)) /dev/zero >>"$T/$seg"
for m in kf:"$T/kf/repo.key" pk:"$T/pk/repo.sec"; do
    d="$T/${m%%:*}"
    printf '\n[source pg]\ntype = postgres\n' >>"$d/coffer.conf"
    ok "logs/ (${m%%:*}): wal-push" backupd --config "$d/coffer.conf" wal-push pg "$T/$seg"
    ok "logs/ (${m%%:*}): the reader written from FORMAT.md reads the archived segment" \
        python3 "$reader" --log "$d/repo" "${m#*:}" pg "$seg" "$T/$seg.${m%%:*}"
    check "logs/ (${m%%:*}): byte for byte" cmp "$T/$seg" "$T/$seg.${m%%:*}"
done
cp "$T/kf/repo/logs/pg/00000001/$seg" "$T/kf/repo/logs/pg/00000001/00000001000000000000002B"
fails "logs/: the reader refuses an object under another segment's name" 1 "does not name" \
    python3 "$reader" --log "$T/kf/repo" "$T/kf/repo.key" pg 00000001000000000000002B "$T/x.seg"

# --- layout 3: an incremental volume backup read by the reader, from its index and the
# segments it names (its own and the parent's) ---------------------------------------------
conf "$T/l3" "key-file = $T/l3/repo.key" 1MiB
sed -i '/^incremental = no$/d' "$T/l3/coffer.conf"
ok "layout 3: init" backupd --config "$T/l3/coffer.conf" init --generate-key "$T/l3/repo.key"
id1=$(backup "$T/l3")
sleep 1.1
echo "changed" >>"$src/sub/numbers.txt"
id2=$(backup "$T/l3")
ok "layout 3: the reader reads the incremental backup" \
    python3 "$reader" "$T/l3/repo" "$T/l3/repo.key" media "$id2" "$T/l3/read.json" "$T/l3/extracted"
check "layout 3: its files equal the source" bash -c "cmp '$src/random.bin' '$T/l3/extracted/random.bin' && cmp '$src/sub/numbers.txt' '$T/l3/extracted/sub/numbers.txt'"
check "layout 3: the manifest is format 3 and names its parent" \
    test "$(j "$T/l3/read.json" 'r["manifest"]["format"], r["manifest"]["parent"]["id"], r["index"]["parent"]')" = "(3, '$id1', '$id1')"
check "layout 3: the unchanged file is read from the parent's segment" \
    test "$(j "$T/l3/read.json" '[e["segment"][0] for e in r["entries"] if e["name"] == "random.bin"][0]')" = "$id1"
check "layout 3: the changed file from the backup's own" \
    test "$(j "$T/l3/read.json" '[e["segment"][0] for e in r["entries"] if e["name"] == "sub/numbers.txt"][0]')" = "$id2"
check "layout 3: refs lists the parent's segments it names, bytes_referenced their sizes" \
    test "$(j "$T/l3/read.json" 'r["manifest"]["bytes_referenced"] == sum(x["size"] for x in r["manifest"]["refs"]) > 0')" = True
check "layout 3: the plain references name the same objects" \
    test "$(python3 -c 'import json,sys; print(sorted((g["id"], n) for g in json.load(open(sys.argv[1]))["refs"] for n in g["n"]))' "$T/l3/repo/backups/media/$id2/refs")" = "$(j "$T/l3/read.json" 'sorted((x["id"], x["n"]) for x in r["manifest"]["refs"])')"
