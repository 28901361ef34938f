#!/usr/bin/env bash
# systemd_units.sh - `backupd systemd-units` (docs/RUNBOOK.md "Timers from the schedules"): a
# drop-in per scheduled job that resets and sets OnCalendar= (two events for cron's
# day-of-month OR day-of-week), RandomizedDelaySec= from jitter, Persistent=true; every event
# is one systemd-analyze accepts, in the job's zone, and the first times it gives are the
# daemon's (tests/unit/test_schedule.c compares many more against policies/schedule.c).
source "$COFFER_TESTS/lib/testlib.sh"

mkdir -p "$T/src"
make_local_conf "$T/d" "$T/src"
C="$T/d/coffer.conf"
sed -i 's/^\[job nightly\]$/[job nightly]\nschedule = 30 2 * * *\ntimezone = Europe\/Berlin\njitter = 15m/' "$C"
cat >>"$C" <<CONF

[job weekly]
sources = media
schedule = 0 4 1 * sun

[job manual]
sources = media
CONF
B="backupd --config $C"

fails "--dir is required" 2 "systemd-units needs --dir" $B systemd-units
fails "--dir goes with systemd-units" 2 "go with systemd-units" $B --dir "$T/u" run nightly
fails "a prefix with a slash" 2 "without '/' or '@'" $B systemd-units --dir "$T/u" --prefix a/b
ok "drop-ins written" $B systemd-units --dir "$T/u"
check "one per scheduled job, paths printed" test "$(cat "$_out")" = "$T/u/coffer-backup@nightly.timer.d/schedule.conf
$T/u/coffer-backup@weekly.timer.d/schedule.conf"
check "none for a job without a schedule" test ! -e "$T/u/coffer-backup@manual.timer.d"
n="$T/u/coffer-backup@nightly.timer.d/schedule.conf"
check "OnCalendar reset, then set in the job's zone" test "$(grep -v '^#' "$n")" = "[Timer]
OnCalendar=
OnCalendar=*-*-* 02:30:00 Europe/Berlin
RandomizedDelaySec=900
Persistent=true"
check "cron's OR: two events" test "$(grep '^OnCalendar=.' "$T/u/coffer-backup@weekly.timer.d/schedule.conf")" = "OnCalendar=*-*-01 04:00:00
OnCalendar=Sun *-*-* 04:00:00"
check "mode 0644" test "$(stat -c %a "$n")" = 644
for f in "$T"/u/*/schedule.conf; do
    grep '^OnCalendar=.' "$f" | cut -d= -f2- | while read -r ev; do
        systemd-analyze calendar "$ev" >/dev/null 2>&1 || echo "$ev" >>"$T/refused"
    done
done
check "systemd-analyze accepts every event" test ! -e "$T/refused"
base=$(date -u -d 2026-06-10T00:00:00Z +%s)
check "the nightly event's next times: 02:30 Berlin summer time is 00:30 UTC" bash -c "TZ=UTC systemd-analyze calendar --base-time=@$base --iterations=2 '*-*-* 02:30:00 Europe/Berlin' | grep -q 'Iter. #2: Thu 2026-06-11 00:30:00 UTC'"
ok "written again: the same" $B systemd-units --dir "$T/u" --prefix coffer-backup
ok "another prefix" $B systemd-units --dir "$T/u" --prefix site-backup
check "under that name" test -f "$T/u/site-backup@nightly.timer.d/schedule.conf"
