# catalog_helpers.sh - sourced by the catalog integration tests after testlib.sh.
#
#   run  WHAT cmd...              like ok; the output stays in $T/o and $T/e for the checks
#   runf WHAT CODE NEEDLE cmd...  like fails; the output stays in $T/o and $T/e
#   jq_  FILE EXPR                a Python expression over the JSON in FILE, bound to d
#   bk   CONF "YYYY-MM-DD hh:mm:ss"   a backup of job nightly dated then (fake_clock)
export FAKETIME_DONT_FAKE_MONOTONIC=1
jq_() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
run() { ok "$@"; cp "$_out" "$T/o"; cp "$_err" "$T/e"; }
runf() { fails "$@"; cp "$_out" "$T/o"; cp "$_err" "$T/e"; }
# (its output goes where ok puts it: a failed backup shows why)
bk() { fake_clock "@$2" backupd --config "$1" run nightly; }
