#!/usr/bin/env bash
# Key slots (repo.json format version 2): several passphrases and key files open one master
# key; adding, removing and changing them rewrites repo.json alone, never a data object.
# coffer-targets: local s3
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src"; echo "payload $RANDOM" >"$T/src/f"; head -c 300000 /dev/urandom >"$T/src/r"
D=$T/s
mkdir -p "$D"
secret() { printf '%s\n' "$2" >"$1"; chmod 600 "$1"; }
secret "$D/pa" "first passphrase"
secret "$D/pb" "second passphrase"
secret "$D/pc" "third passphrase"
secret "$D/pw" "nobody's passphrase"
head -c 32 /dev/urandom >"$D/kf"; head -c 32 /dev/urandom >"$D/kw"; chmod 600 "$D/kf" "$D/kw"
section=$(repo_section "$D")
# conf NAME KEY-LINE [REPOSITORY-LINES]: $D/NAME.conf, the repository (by default the one of
# this test) opened by KEY-LINE
conf() {
    cat >"$D/$1.conf" <<CONF
[repository]
${3:-$section}
$2
[source media]
type = volume
path = $T/src
[job nightly]
sources = media
[catalog]
path = $D/$1.db
CONF
}
conf a "passphrase-file = $D/pa"; conf b "passphrase-file = $D/pb"; conf c "passphrase-file = $D/pc"
conf w "passphrase-file = $D/pw"; conf k "key-file = $D/kf"; conf kw "key-file = $D/kw"
A="--config $D/a.conf" B="--config $D/b.conf" C="--config $D/c.conf" K="--config $D/k.conf"
# slot_id CONF LABEL: the id of the slot labelled LABEL
slot_id() { backupd --config "$1" key list | awk -v l="$2" '$NF == l { print ($1 == "*" ? $2 : $1) }'; }
# data_sum: one checksum over every object under backups/ (the data objects and manifests)
data_sum() {
    local k
    for k in $(repo_keys "$D" backups/); do repo_get "$D" "$k" "$T/obj" && sha256sum <"$T/obj"; done | sha256sum
}
restores() {  # restores CONF DIR: the newest backup restores equal to the source
    restore --config "$1" --source media --at now --to "$2" >/dev/null 2>&1 && diff -r "$T/src" "$2"
}

ok "init with a passphrase" backupd $A init
ok "repo.json is read" repo_get "$D" repo.json "$D/repo.json"
check "a new repository is format version 2" grep -q '"version": 2' "$D/repo.json"
check "its key is held in slots" grep -q '"mode": "slots"' "$D/repo.json"
check "and no passphrase in it" bash -c "! grep -q 'first passphrase' '$D/repo.json'"
ok "backup" backupd $A run nightly
ok "key list" backupd $A key list
check "one slot, the configuration's, labelled initial" grep -Eq '^\* +[0-9a-f]{8} +passphrase +[0-9T:Z-]+ +initial$' "$_out"

ok "key add a passphrase" backupd $A key add --passphrase-file "$D/pb" --label second
check "it names the new slot" grep -Eq '^key slot [0-9a-f]{8} added$' "$_out"
ok "key add a key file" backupd $A key add --key-file "$D/kf" --label robot
ok "key list" backupd $A key list
check "three slots" test "$(grep -Ec '^(\*| ) +[0-9a-f]{8} ' "$_out")" = 3
check "the list shows no secret" bash -c "! grep -Eq '[0-9a-f]{32}|passphrase\$' '$_out'"
check "kinds and labels" bash -c "grep -Eq ' keyfile .* robot\$' '$_out' && grep -Eq ' passphrase .* second\$' '$_out'"
ok "the second passphrase opens it" restores "$D/b.conf" "$T/out-b"
ok "the key file opens it" restores "$D/k.conf" "$T/out-k"
ok "the first passphrase still does" catalog $A list
ok "a backup through the key file's slot" backupd $K run nightly
ok "verify all through the second passphrase" catalog $B verify --all
before=$(data_sum)

first=$(slot_id "$D/b.conf" initial) second=$(slot_id "$D/b.conf" second) robot=$(slot_id "$D/b.conf" robot)
fails "the slot in use is not removed" 2 "the one the configuration's key opened" backupd $A key remove "$first"
fails "an unknown slot is named" 1 "no key slot 'ffffffff'" backupd $B key remove ffffffff
ok "remove the first slot with another's key" backupd $B key remove "$first"
fails "the first passphrase no longer opens" 2 "wrong key: this passphrase does not unlock the repository" catalog $A list
ok "the second still restores" restores "$D/b.conf" "$T/out-b2"

ok "key passwd" backupd $B key passwd --passphrase-file "$D/pc"
fails "the old passphrase no longer opens" 2 "wrong key" catalog $B list
ok "the new passphrase restores" restores "$D/c.conf" "$T/out-c"
check "the slot kept its id and label" test "$(slot_id "$D/c.conf" second)" = "$second"

fails "a passphrase no slot holds: the key error" 2 "wrong key: this passphrase does not unlock the repository" catalog --config "$D/w.conf" list
fails "a key file no slot holds: the key error" 2 "wrong key: this key file does not unlock the repository" catalog --config "$D/kw.conf" list
ok "remove the key file's slot" backupd $C key remove "$robot"
fails "the key file no longer opens" 2 "it has no key-file slot" catalog $K list
fails "the last slot is never removed" 2 "the repository's last key slot" backupd $C key remove "$second"
check "no data object changed through all of it" test "$(data_sum)" = "$before"

# usage
fails "key add needs a passphrase or a key file" 2 "--passphrase-file F or --key-file F" backupd $C key add
fails "not both" 2 "--passphrase-file F or --key-file F" backupd $C key add --key-file "$D/kf" --passphrase-file "$D/pb"
fails "key passwd needs the new passphrase" 2 "key passwd needs --passphrase-file" backupd $C key passwd
fails "key remove needs an id" 2 "key remove needs one slot ID" backupd $C key remove
fails "an unknown subcommand" 2 "key needs one of list, add, remove, passwd, upgrade" backupd $C key frob
fails "--label goes with key add" 2 "--key-file and --label go with key add" backupd $C key list --label x
chmod 644 "$D/pb"
fails "a new passphrase readable by others is refused" 2 "readable by group or others" backupd $C key add --passphrase-file "$D/pb"
chmod 600 "$D/pb"
fails "upgrade of a version 2 repository" 1 "is version 2 already" backupd $C key upgrade

# a crash in the middle of an update: repo.json is replaced whole (one rename, one PUT) or not
for delay in 0.3 0.7 1.1 1.5; do
    backupd $C key add --passphrase-file "$D/pb" --label "crash-$delay" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    ok "killed after ${delay}s: repo.json still opens" backupd $C key list
done
ok "and a later change goes through (the dead holder's lock is taken over)" backupd $C key add --passphrase-file "$D/pb" --label after-crash
only_on local "an s3 store has no temporary files" \
    ok "a leftover temporary file beside repo.json is ignored" bash -c "echo '{broken' >'$D/repo/repo.json.tmp-Ab12Cd' && backupd $C key list >/dev/null"
ok "restore after all of it" restores "$D/c.conf" "$T/out-end"

# public-key mode keeps its meaning: the backup host holds only the public key, no slots
mkdir -p "$T/p"
ok "keygen" backupd keygen --public "$T/p/repo.pub" --secret "$T/p/repo.sec"
conf pub "public-key-file = $T/p/repo.pub" "$(repo_section "$T/p")"
ok "init sealed to a public key" backupd --config "$D/pub.conf" init
fails "key list refuses a public-key repository" 2 "sealed to a public key: it has no key slots" backupd --config "$D/pub.conf" key list
fails "key add too" 2 "sealed to a public key" backupd --config "$D/pub.conf" key add --passphrase-file "$D/pb"
