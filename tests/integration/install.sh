#!/usr/bin/env bash
# install.sh - `make install` and `make uninstall` (docs/RUNBOOK.md "Installing"): the tree
# under DESTDIR (binaries, man pages, units, sysusers, completion, examples, alert rules,
# dashboard); units naming the binaries under PREFIX and passing `systemd-analyze verify`;
# man pages that render without warnings and list every command, option and configuration key
# that the tools' --help and docs/CONFIG.md name; a bash completion that loads and completes;
# --version on every tool; an uninstall that leaves none of it behind.
source "$COFFER_TESTS/lib/testlib.sh"

top=$(cd "$COFFER_TESTS/.." && pwd)
mk() { nice -n 19 make -s -C "$top" INSTALL_FROM="$COFFER_BIN" "$@"; }
D="$T/dest" P=/usr/local
ver=$(sed -n 's/^#define COFFER_VERSION "\(.*\)"/\1/p' "$top/lib/core/version.h")

ok "make install DESTDIR PREFIX=/usr/local" mk install DESTDIR="$D" PREFIX=$P
units=$(cd "$top/deploy/systemd" && ls *.service *.timer)
{
    printf '%s\n' bin/backupd bin/restore bin/catalog bin/migrate \
        share/man/man8/backupd.8 share/man/man8/restore.8 share/man/man8/catalog.8 \
        share/man/man1/migrate.1 share/man/man5/coffer.conf.5 lib/sysusers.d/coffer.conf \
        share/bash-completion/completions/{backupd,restore,catalog,migrate} \
        share/coffer/coffer.conf.example share/coffer/crontab.example \
        share/coffer/prometheus/coffer.rules.yml share/coffer/grafana/coffer.json
    for u in $units; do echo "lib/systemd/system/$u"; done
} | sort >"$T/want"
(cd "$D$P" && find . -not -type d | sed 's|^\./||' | sort) >"$T/got"
check "the tree holds exactly what install promises" diff "$T/want" "$T/got"
check "units and unit count" test "$(echo "$units" | wc -w)" -ge 8
check "binaries executable, the rest 0644" test "$(stat -c %a "$D$P/bin/backupd") $(stat -c %a "$D$P/share/man/man8/backupd.8" "$D$P/lib/systemd/system/coffer.service" | sort -u)" = "755 644"
check "no @BINDIR@ left" bash -c "! grep -rl '@BINDIR@' '$D'"
check "ExecStart under PREFIX" grep -q "^ExecStart=$P/bin/backupd --config /etc/coffer/coffer.conf daemon$" "$D$P/lib/systemd/system/coffer.service"
check "the crontab too" grep -q " coffer  $P/bin/backupd --config" "$D$P/share/coffer/crontab.example"
for t in backupd restore catalog migrate; do
    check "$t --version" test "$("$D$P/bin/$t" --version)" = "$t (coffer) $ver"
done

# man pages: render without a warning; true to the tools' --help and to docs/CONFIG.md
for m in man8/backupd.8 man8/restore.8 man8/catalog.8 man1/migrate.1 man5/coffer.conf.5; do
    f="$D$P/share/man/$m"
    MANWIDTH=80 man -l --warnings "$f" >"$T/rendered" 2>"$T/warn"
    check "man -l $m renders without warnings" test $? = 0 -a ! -s "$T/warn" -a -s "$T/rendered"
    check "man -l $m has NAME and SEE ALSO" bash -c "grep -q '^NAME' '$T/rendered' && grep -q '^SEE ALSO' '$T/rendered'"
done
for t in backupd restore catalog migrate; do
    man=$(ls "$D$P"/share/man/man*/$t.[18])
    MANWIDTH=200 man -l "$man" 2>/dev/null >"$T/$t.txt"
    # (catalog's help mentions `restore --at`, which is not one of its options)
    "$D$P/bin/$t" --help | sed 's/restore --at//g' >"$T/$t.help"
    # options, and commands: the first word of each line of the "commands" block
    { grep -o -- '--[a-z][a-z-]*' "$T/$t.help"
      awk '/^commands/ {c=1; next} /^$/ {c=0} c && /^  [a-z]/ {print $1}' "$T/$t.help"; } | sort -u >"$T/$t.words"
    [ "$t" = restore ] && echo wal-fetch >>"$T/$t.words"
    check "$t(8/1) names every option and command of $t --help" \
        bash -c "for w in \$(cat '$T/$t.words'); do grep -qw -- \"\$w\" '$T/$t.txt' || { echo \"missing \$w\" >&2; exit 1; }; done"
done
MANWIDTH=200 man -l "$D$P/share/man/man5/coffer.conf.5" 2>/dev/null >"$T/conf.txt"
grep '^| `[a-z]' "$top/docs/CONFIG.md" | awk -F'|' '{print $2}' | grep -o '[a-z][a-z-]*' | sort -u >"$T/keys"
check "CONFIG.md has keys" test "$(wc -l <"$T/keys")" -gt 40
check "coffer.conf(5) names every key of docs/CONFIG.md" \
    bash -c "for k in \$(cat '$T/keys'); do grep -q -- \"\$k\" '$T/conf.txt' || { echo \"missing \$k\" >&2; exit 1; }; done"

# bash completion: loads, completes commands, options and the configuration's job names
comp="$D$P/share/bash-completion/completions"
mkdir -p "$T/etc"
printf '[job nightly]\nsources = a\n[job weekly]\nsources = a\n[source a]\ntype = volume\n' >"$T/etc/c.conf"
complete_words() {  # complete_words WORD... (the last one is being completed)
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
             _coffer "$1"; echo "${COMPREPLY[*]}"' sh "$comp/$1" "$@"
}
check "completion loads and registers every tool" bash -c "source '$comp/backupd' && complete -p backupd restore catalog migrate >/dev/null"
check "the other tools' files are the same script" test "$(readlink "$comp/restore") $(readlink "$comp/migrate")" = "backupd backupd"
check "catalog ver<TAB> -> verify" test "$(complete_words catalog ver)" = verify
check "backupd run <TAB> -> the jobs" test "$(complete_words backupd --config "$T/etc/c.conf" run '')" = "nightly weekly"
check "restore --log-format <TAB>" test "$(complete_words restore --log-format '')" = "text json"
for t in backupd restore catalog migrate; do
    complete_words "$t" -- | tr ' ' '\n' | sort -u >"$T/$t.comp"
    check "$t: every option of --help completes" bash -c "comm -23 <(grep -o -- '--[a-z][a-z-]*' '$T/$t.help' | sort -u) '$T/$t.comp' | tee /dev/stderr | grep -q . && exit 1 || exit 0"
    complete_words "$t" '' | tr ' ' '\n' | sort -u >"$T/$t.cmds"
    check "$t: every command of --help completes" bash -c "comm -23 <(grep -v -- '^--' '$T/$t.words') '$T/$t.cmds' | tee /dev/stderr | grep -q . && exit 1 || exit 0"
done

# systemd-analyze verify: units installed under a real PREFIX, so that ExecStart exists (a
# template is verified through an instance of it, which also loads coffer-notify@)
ok "make install PREFIX=\$T/p" mk install PREFIX="$T/p"
cd "$T/p/lib/systemd/system" || exit 1
vunits="coffer-backup@nightly.service coffer-backup@nightly.timer coffer-notify@coffer-backup@nightly.service.service"
for u in *.service *.timer; do [[ $u == *@* ]] || vunits="$vunits $u"; done
# shellcheck disable=SC2086
MANPATH="$T/p/share/man:" systemd-analyze verify $vunits >"$T/verify.out" 2>&1
check "systemd-analyze verify passes on every unit, with no warning" bash -c "test $? = 0 -a ! -s '$T/verify.out' || { cat '$T/verify.out' >&2; exit 1; }"
svcs=$(for u in $vunits; do [[ $u == *.service ]] && echo "$u"; done)
# shellcheck disable=SC2086
MANPATH="$T/p/share/man:" systemd-analyze security --offline=true --threshold=25 $svcs >"$T/security.out" 2>&1
check "every service's exposure (systemd-analyze security) is 2.5 or lower" bash -c "test $? = 0 || { grep 'Overall' '$T/security.out' >&2; exit 1; }"
echo "Bogus=1" >>coffer-prune.service
MANPATH="$T/p/share/man:" systemd-analyze verify coffer-prune.service >"$T/verify.out" 2>&1
check "(and it would see a bad key)" grep -q "Unknown key 'Bogus'" "$T/verify.out"
cd "$T" || exit 1

ok "make uninstall DESTDIR PREFIX=/usr/local" mk uninstall DESTDIR="$D" PREFIX=$P
check "uninstall leaves no file behind" test -z "$(find "$D" -not -type d)"
check "nor coffer's own directory" test ! -e "$D$P/share/coffer"
ok "make uninstall PREFIX=\$T/p" mk uninstall PREFIX="$T/p"
check "nor under the other PREFIX" test -z "$(find "$T/p" -not -type d)"
