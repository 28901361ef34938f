#!/usr/bin/env bash
# The three ways to hold the repository key: key file (other tests), passphrase (Argon2id), and
# a public key whose backup host cannot read back what it wrote.
# coffer-targets: local s3
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src"; echo "payload $RANDOM" >"$T/src/f"; head -c 2000000 /dev/urandom >"$T/src/r"

# --- passphrase ---
mkdir -p "$T/p"
printf 'correct horse battery staple\n' >"$T/p/pass"; chmod 600 "$T/p/pass"
cat >"$T/p/coffer.conf" <<CONF
[repository]
$(repo_section "$T/p")
passphrase-file = $T/p/pass
[source media]
type = volume
path = $T/src
[job nightly]
sources = media
[catalog]
path = $T/p/catalog.db
CONF
C="--config $T/p/coffer.conf"
ok "init with a passphrase" backupd $C init
ok "repo.json is read" repo_get "$T/p" repo.json "$T/p/repo.json"
check "repo.json records the Argon2id parameters" grep -q '"algorithm": "argon2id13"' "$T/p/repo.json"
check "and not the passphrase" bash -c "! grep -q horse '$T/p/repo.json'"
ok "backup" backupd $C run nightly
ok "restore" restore $C --source media --at now --to "$T/p/out"
ok "restored equals source" diff -r "$T/src" "$T/p/out"
printf 'wrong horse\n' >"$T/p/pass"
fails "wrong passphrase is named" 2 "wrong key: this passphrase does not unlock the repository" catalog $C list
chmod 640 "$T/p/pass"
fails "passphrase file readable by group is refused" 2 "readable by group or others" catalog $C list

# --- public key ---
mkdir -p "$T/k"
ok "keygen" backupd keygen --public "$T/k/repo.pub" --secret "$T/k/repo.sec"
check "secret key is 0600" test "$(stat -c %a "$T/k/repo.sec")" = 600
fails "keygen never overwrites" 1 "unable to create key file" backupd keygen --public "$T/k/repo.pub" --secret "$T/k/repo.sec"
cat >"$T/k/coffer.conf" <<CONF
[repository]
$(repo_section "$T/k")
public-key-file = $T/k/repo.pub
[source media]
type = volume
path = $T/src
[job nightly]
sources = media
[catalog]
path = $T/k/catalog.db
CONF
C="--config $T/k/coffer.conf"
ok "init sealed to a public key" backupd $C init
ok "the backup host writes with the public key alone" backupd $C run nightly
ok "it lists what it wrote" catalog $C list
check "but cannot read it" grep -q "sealed" "$_out"
fails "restore without the secret key says what is needed" 2 "--secret-key-file" restore $C --source media --at now --to "$T/k/out"
check "and writes nothing" test ! -e "$T/k/out"
ok "restore with the secret key" restore $C --source media --at now --to "$T/k/out" --secret-key-file "$T/k/repo.sec"
ok "restored equals source" diff -r "$T/src" "$T/k/out"
ok "verify with the secret key" catalog $C verify --all --secret-key-file "$T/k/repo.sec"
ok "keygen of another pair" backupd keygen --public "$T/k/other.pub" --secret "$T/k/other.sec"
fails "a secret key of another pair is refused" 2 "does not belong to this repository's public key" restore $C --source media --at now --to "$T/k/out2" --secret-key-file "$T/k/other.sec"
