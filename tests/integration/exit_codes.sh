#!/usr/bin/env bash
# exit_codes.sh - one exit code per kind of failure, the same in every tool (the table in
# docs/CONFIG.md "Exit codes"): a key, passphrase or secret key file that is missing, readable by
# others or wrong is a configuration/key error (2) for backupd, restore and catalog alike.
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src"; echo "payload $RANDOM" >"$T/src/f"

# tools DIR: the three tools that open the repository, each with what it needs
tools() {
    local c="--config $1/coffer.conf"
    printf '%s\n' "backupd $c run nightly" "restore $c --source media --at latest --to $T/out-$RANDOM" \
        "catalog $c list"
}
# each_tool WHAT CODE NEEDLE DIR [extra args for restore]: every tool exits CODE naming NEEDLE
each_tool() {
    local what=$1 code=$2 needle=$3 d=$4 cmd
    while read -r cmd; do
        # shellcheck disable=SC2086
        fails "${cmd%% *}: $what" "$code" "$needle" $cmd
    done < <(tools "$d")
}

# --- key file ---
make_local_conf "$T/k" "$T/src"
ok "init (key file)" backupd --config "$T/k/coffer.conf" init
ok "a backup: exit 0" backupd --config "$T/k/coffer.conf" run nightly
mv "$T/k/repo.key" "$T/k/good.key"
each_tool "a missing key file is a key error" 2 "unable to read key file" "$T/k"
cp "$T/k/good.key" "$T/k/repo.key"; chmod 644 "$T/k/repo.key"
each_tool "a key file readable by others is a key error" 2 "readable by group or others (mode 0644)" "$T/k"
head -c 32 /dev/urandom >"$T/k/repo.key"; chmod 600 "$T/k/repo.key"
each_tool "a wrong key file is a key error" 2 "wrong key: this key file does not unlock" "$T/k"
printf 'short' >"$T/k/repo.key"
each_tool "a key file that holds no key is a key error" 2 "is not a key" "$T/k"
cp "$T/k/good.key" "$T/k/repo.key"

# --- passphrase ---
mkdir -p "$T/p"
sed -e "s|^key-file = .*|passphrase-file = $T/p/pass|" -e "s|$T/k/|$T/p/|g" "$T/k/coffer.conf" >"$T/p/coffer.conf"
(umask 077; printf 'correct horse\n' >"$T/p/pass")
ok "init (passphrase)" backupd --config "$T/p/coffer.conf" init
ok "a backup with the passphrase" backupd --config "$T/p/coffer.conf" run nightly
printf 'wrong horse\n' >"$T/p/pass"
each_tool "a wrong passphrase is a key error" 2 "wrong key: this passphrase does not unlock" "$T/p"
rm "$T/p/pass"
each_tool "a missing passphrase file is a key error" 2 "unable to read passphrase file" "$T/p"
(umask 077; printf 'correct horse\n' >"$T/p/pass"); chmod 640 "$T/p/pass"
each_tool "a passphrase file readable by the group is a key error" 2 "readable by group or others" "$T/p"
chmod 600 "$T/p/pass"

# --- public key: restore and catalog need the secret key ---
mkdir -p "$T/pk"
ok "keygen" backupd keygen --public "$T/pk/repo.pub" --secret "$T/pk/repo.sec"
ok "another pair" backupd keygen --public "$T/pk/other.pub" --secret "$T/pk/other.sec"
sed -e "s|^key-file = .*|public-key-file = $T/pk/repo.pub|" -e "s|$T/k/|$T/pk/|g" "$T/k/coffer.conf" >"$T/pk/coffer.conf"
P="--config $T/pk/coffer.conf"
ok "init (public key)" backupd $P init
ok "a backup sealed to the public key" backupd $P run nightly
fails "restore: no secret key is a key error" 2 "--secret-key-file" restore $P --source media --at latest --to "$T/o1"
fails "restore: a missing secret key file is a key error" 2 "unable to read secret key file" \
    restore $P --source media --at latest --to "$T/o2" --secret-key-file "$T/pk/nope.sec"
chmod 644 "$T/pk/repo.sec"
fails "restore: a secret key file readable by others is a key error" 2 "readable by group or others" \
    restore $P --source media --at latest --to "$T/o3" --secret-key-file "$T/pk/repo.sec"
fails "catalog: the same" 2 "readable by group or others" catalog $P verify --all --secret-key-file "$T/pk/repo.sec"
chmod 600 "$T/pk/repo.sec"
fails "restore: another pair's secret key is a key error" 2 "does not belong to this repository" \
    restore $P --source media --at latest --to "$T/o4" --secret-key-file "$T/pk/other.sec"
fails "catalog rebuild: no secret key is a key error" 2 "--secret-key-file" catalog $P rebuild
ok "restore with the right secret key: exit 0" restore $P --source media --at latest --to "$T/o5" --secret-key-file "$T/pk/repo.sec"

# --- the other kinds ---
K="--config $T/k/coffer.conf"
fails "usage: an unknown option is 2 in backupd" 2 "unknown option" backupd $K --frobnicate run nightly
fails "usage: and in restore" 2 "unknown option" restore $K --frobnicate
fails "usage: and in catalog" 2 "" catalog $K --frobnicate list
fails "usage: and in migrate" 2 "" migrate --frobnicate status
fails "configuration: an unknown key is 2" 2 "unknown key 'colour'" \
    bash -c "sed '/^\[job nightly\]/a colour = blue' '$T/k/coffer.conf' >'$T/bad.conf' && backupd --config '$T/bad.conf' run nightly"
fails "configuration: a missing file is 2 in migrate too" 2 "unable to read configuration" migrate --config "$T/nope.conf" --source media status
mv "$T/src" "$T/src.away"
fails "a failed source: run exits 1" 1 "source 'media'" backupd $K run nightly
mkdir -p "$T/src2"; echo x >"$T/src2/f"
cat >>"$T/k/coffer.conf" <<CONF

[source other]
type = volume
path = $T/src2

[job both]
sources = media, other
CONF
fails "some sources failed: run exits 3" 3 "source 'media'" backupd $K run both
mv "$T/src.away" "$T/src"
mv "$T/k/repo" "$T/k/repo.away"
fails "a missing repository is a failure (1), not a key error" 1 "" restore $K --source media --at latest --to "$T/o6"
mv "$T/k/repo.away" "$T/k/repo"
