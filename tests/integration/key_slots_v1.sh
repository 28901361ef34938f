#!/usr/bin/env bash
# Version 1 repositories (tests/fixtures/repo-v1, written by coffer before key slots) still
# list, verify and restore; `backupd key upgrade` wraps their master in a slot, after which a
# changed passphrase or a removed key file no longer opens them while their backups restore.
# coffer-targets: local s3
source "$COFFER_TESTS/lib/testlib.sh"

fx="$COFFER_TESTS/fixtures/repo-v1"
secret() { printf '%s\n' "$2" >"$1"; chmod 600 "$1"; }
# load DIR FIXTURE-REPO: the fixture's objects into DIR's repository on the current target
load() {
    local f
    for f in $(cd "$2" && find . -type f -printf '%P\n'); do repo_put "$1" "$f" "$2/$f" || return 1; done
}
# conf DIR KEY-LINE: DIR/coffer.conf over DIR's repository
conf() {
    cat >"$1/coffer.conf" <<CONF
[repository]
$(repo_section "$1")
$2
[source media]
type = volume
path = $fx/src
[job nightly]
sources = media
[catalog]
path = $1/catalog.db
CONF
}
restores() {  # restores CONF DIR: the fixture's one backup restores equal to its source
    restore --config "$1" --source media --at now --to "$2" >/dev/null 2>&1 && diff -r "$fx/src" "$2"
}

# --- passphrase mode ---
P=$T/p
mkdir -p "$P"
cp "$fx/passphrase" "$P/old"; chmod 600 "$P/old"
secret "$P/new" "a new passphrase after the leak"
conf "$P" "passphrase-file = $P/old"
ok "the version 1 passphrase repository is loaded" load "$P" "$fx/passphrase-repo"
C="--config $P/coffer.conf"
ok "it lists" catalog $C list
check "its one backup" grep -q "media" "$_out"
ok "it verifies" catalog $C verify --all
ok "it restores" restores "$P/coffer.conf" "$T/p-out1"
ok "key list says it has no slots" backupd $C key list
check "and how to add them" grep -q "backupd key upgrade" "$_out"
fails "key add asks for the upgrade first" 2 "HINT: run 'backupd key upgrade' first" backupd $C key add --passphrase-file "$P/new"
fails "key passwd too" 2 "version 1 repository" backupd $C key passwd --passphrase-file "$P/new"
ok "key upgrade" backupd $C key upgrade
ok "repo.json is read" repo_get "$P" repo.json "$P/repo.json"
check "it is version 2 now" grep -q '"version": 2' "$P/repo.json"
check "without the version 1 derivation" bash -c "python3 -c 'import json,sys; sys.exit(\"kdf\" in json.load(open(sys.argv[1]))[\"key\"])' '$P/repo.json'"
ok "the same passphrase opens it and its backup restores" restores "$P/coffer.conf" "$T/p-out2"
ok "key passwd" backupd $C key passwd --passphrase-file "$P/new"
fails "the old passphrase no longer opens it" 2 "wrong key: this passphrase does not unlock the repository" catalog $C list
sed -i "s|^passphrase-file = .*|passphrase-file = $P/new|" "$P/coffer.conf"
ok "the new one restores the version 1 backup" restores "$P/coffer.conf" "$T/p-out3"
ok "and verifies it" catalog $C verify --all
ok "a new backup in the upgraded repository" backupd $C run nightly
ok "restores too" restores "$P/coffer.conf" "$T/p-out4"
only_on local "the reader reads a directory" \
    ok "the doc's reader opens the upgraded repository" python3 "$COFFER_TESTS/lib/coffer_reader.py" "$P/repo" "$P/new" media "$(ls "$fx/passphrase-repo/backups/media")" "$T/p-reader.json"

# --- key file mode ---
K=$T/k
mkdir -p "$K"
cp "$fx/keyfile.hex" "$K/old.key"; chmod 600 "$K/old.key"
secret "$K/pass" "the passphrase that replaces the key file"
conf "$K" "key-file = $K/old.key"
ok "the version 1 key-file repository is loaded" load "$K" "$fx/keyfile-repo"
C="--config $K/coffer.conf"
ok "it restores" restores "$K/coffer.conf" "$T/k-out1"
ok "key upgrade" backupd $C key upgrade
ok "key add a passphrase" backupd $C key add --passphrase-file "$K/pass" --label ops
old=$(backupd $C key list | awk '$1 == "*" { print $2 }')
sed -i "s|^key-file = .*|passphrase-file = $K/pass|" "$K/coffer.conf"
ok "remove the key file's slot" backupd $C key remove "$old"
ok "the passphrase restores the version 1 backup" restores "$K/coffer.conf" "$T/k-out2"
sed -i "s|^passphrase-file = .*|key-file = $K/old.key|" "$K/coffer.conf"
fails "the old key file no longer opens it" 2 "it has no key-file slot" catalog $C list
