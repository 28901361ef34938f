#!/usr/bin/env bash
# demo.sh - coffer end to end on a sample directory, in ./demo (made afresh each run).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
demo=$PWD/demo
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

rm -rf "$demo"
mkdir -p "$demo/sample/photos/2026/november" "$demo/sample/docs" "$demo/sample/empty-folder"

say "Making a sample directory to back up: $demo/sample"
echo "Minutes of the meeting: coffer ships on Monday." >"$demo/sample/docs/minutes.txt"
seq 1 200000 | sed 's/^/invoice line /' >"$demo/sample/docs/invoices.csv"
head -c 20000000 /dev/urandom >"$demo/sample/photos/2026/november/big-photo.raw"
: >"$demo/sample/docs/empty-file.txt"
ln -s docs/minutes.txt "$demo/sample/latest-minutes"
ln "$demo/sample/docs/minutes.txt" "$demo/sample/photos/minutes-hardlink.txt"
echo "  nested folders, a 20 MB file, an empty file, an empty folder, a symlink and a hard link"

say "Writing a configuration file: $demo/coffer.conf"
cat >"$demo/coffer.conf" <<CONF
; where backups go, and the key that encrypts them
[repository]
target = local
path = $demo/repository
key-file = $demo/repo.key

; what to back up
[source sample]
type = volume
path = $demo/sample
exclude = *.tmp

; a job groups sources; cron or a systemd timer runs 'backupd run nightly'
[job nightly]
sources = sample

; the local index of what the repository holds (a cache: catalog rebuild recreates it)
[catalog]
path = $demo/catalog.db
CONF
sed 's/^/  /' "$demo/coffer.conf"

say "Creating the repository with a new random key (backupd init --generate-key)"
"$bin/backupd" --config "$demo/coffer.conf" init --generate-key "$demo/repo.key"
echo "  the key is $demo/repo.key (mode $(stat -c %a "$demo/repo.key")); without it nothing can be restored"

say "Backing up (backupd run nightly): compressed with zstd, encrypted with libsodium"
"$bin/backupd" --config "$demo/coffer.conf" run nightly

say "What the repository holds (catalog list)"
"$bin/catalog" --config "$demo/coffer.conf" list

say "Checking every byte of it can be read back (catalog verify --all)"
"$bin/catalog" --config "$demo/coffer.conf" verify --all

say "Restoring the sample as it was now (restore --at now) into $demo/restored"
"$bin/restore" --config "$demo/coffer.conf" --source sample --at now --to "$demo/restored"

say "Comparing the original and the restored trees"
fingerprint() { (cd "$1" && find . -mindepth 1 -printf '%p %y %m %u %g %s %l\n' | LC_ALL=C sort &&
                 find . -type f -print0 | xargs -0 sha256sum | LC_ALL=C sort -k2); }
if diff <(fingerprint "$demo/sample") <(fingerprint "$demo/restored") >/dev/null; then
    echo "  identical: every file, folder, link, permission and byte came back"
else
    echo "  DIFFERENT: the restored tree does not match the original" >&2
    diff <(fingerprint "$demo/sample") <(fingerprint "$demo/restored") | head -20 >&2
    exit 1
fi
if grep -r -q -a "coffer ships on Monday" "$demo/repository"; then
    echo "  the repository contains plaintext: this is a bug" >&2
    exit 1
fi
echo "  and the repository is encrypted: 'coffer ships on Monday' appears nowhere in it"

say "Done. Try: bin/catalog --config demo/coffer.conf show <ID>, or bin/restore --help"
