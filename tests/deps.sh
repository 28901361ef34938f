#!/usr/bin/env bash
# deps.sh - the include dependency rules of docs/ARCHITECTURE.md, checked on every quoted
# #include of the code (lib/, policies/ and the tools; tests are free to include anything).
# Prints each violation as "file:line: rule", then one TAP line; exits 1 on any violation.
# Also, after a build: no lib/ or policies/ object calls a function only a tool defines.
# Run from anywhere: paths are taken relative to the tree this script is in.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

# The rules, one a line: FROM;TO;RULE. FROM matches the including file, TO the included one
# (both paths from the top of the tree, after resolving "../"); a leading '!' negates a
# pattern (extended regular expressions). A file matching FROM may not include one matching TO.
tools='(backupd|restore|catalog|migrate)'
drivers='lib/(source|storage|db|repo|stream|catalog|crypto)'
rules="
^lib/;^$tools/;lib/ never includes a tool
^lib/(core|config)/;^$drivers/;lib/core and lib/config include no driver
^policies/;!^(policies|lib/core)/;policies/ includes nothing but lib/core
^lib/source/;^lib/storage/;sources never include the storage layer
^lib/storage/;^lib/source/;the storage layer never includes sources
!^lib/(repo|storage)/;^lib/storage/target\\.h$;only lib/repo includes target.h outside lib/storage
"

# The layers, bottom up: a file may include its own room and rooms of a lower layer, never a
# room of its own layer or above (so there is no cycle, and a room's place says what it may
# use). The rules above forbid, in addition, some pairs the layers would allow.
declare -A layer=(
    [lib/core]=0
    [lib/config]=1 [lib/crypto]=1 [policies]=1
    [lib/storage]=2 [lib/db]=2 [lib/metrics]=2 [lib/notify]=2
    [lib/repo]=3 [lib/source]=3
    [lib/stream]=4
    [lib/catalog]=5
    [lib/backup]=6 [lib/validate]=6
    [backupd]=7 [restore]=7 [catalog]=7 [migrate]=7
)
# room PATH: the room a file or folder path belongs to (lib/storage/s3/x.c -> lib/storage)
room() {
    case $1 in
    lib/*) local r=${1#lib/}; echo "lib/${r%%/*}" ;;
    *) echo "${1%%/*}" ;;
    esac
}

# match PATTERN PATH: the pattern, negated by a leading '!', matches PATH
match() {
    if [ "${1:0:1}" = '!' ]; then
        ! [[ $2 =~ ${1:1} ]]
    else
        [[ $2 =~ $1 ]]
    fi
}

bad=0
files=$(find lib policies backupd restore catalog migrate -name '*.[ch]' 2>/dev/null | sort)
while IFS=: read -r file line inc; do
    [ -n "$file" ] || continue
    inc=${inc#*\"}
    inc=${inc%%\"*}
    # resolve as the compiler does: beside the file, then under lib/ (-Ilib)
    target=$(realpath -m --relative-to="$root" "$(dirname "$file")/$inc")
    [ -e "$target" ] || [ ! -e "lib/$inc" ] || target=$(realpath -m --relative-to="$root" "lib/$inc")
    rf=$(room "$file") rt=$(room "$target")
    if [ "$rf" != "$rt" ]; then
        if [ -z "${layer[$rf]:-}" ] || [ -z "${layer[$rt]:-}" ]; then
            echo "$file:$line: every room has a layer in tests/deps.sh (includes $target)"
            bad=$((bad + 1))
        elif [ "${layer[$rt]}" -ge "${layer[$rf]}" ]; then
            echo "$file:$line: $rf (layer ${layer[$rf]}) includes only lower layers (includes $target, layer ${layer[$rt]})"
            bad=$((bad + 1))
        fi
    fi
    while IFS=';' read -r from to rule; do
        [ -n "$from" ] || continue
        if match "$from" "$file" && match "$to" "$target"; then
            echo "$file:$line: $rule (includes $target)"
            bad=$((bad + 1))
        fi
    done <<<"$rules"
done < <(grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $files)

# What the includes cannot show: a lib/ or policies/ file calling a function that only a
# tool's file defines (declared in a lib/ header). build/libcoffer.a holds the tools' files
# too, so nothing fails to link. Checked on the objects of the last build, when there is one:
# the symbols each lib/ and policies/ object needs against those the tools' objects define
# (objects whose source is gone are left out).
objs() {   # objs FOLDER...: the object files under build/obj/ of existing sources
    local d o
    for d in "$@"; do
        [ -d "$root/build/obj/$d" ] || continue
        while read -r o; do
            o=${o#"$root"/build/obj/}
            [ -e "$root/${o%.o}.c" ] && echo "build/obj/$o"
        done < <(find "$root/build/obj/$d" -name '*.o')
    done
}
libbad=0
if [ -d build/obj/lib ] && command -v nm >/dev/null; then
    tools_def=$(objs backupd restore catalog migrate | xargs -r nm --defined-only |
        awk 'NF == 3 && $2 ~ /^[TDBR]$/ { print $3 }' | sort -u)
    while read -r sym o; do
        [ -n "$sym" ] || continue
        src=${o#build/obj/}
        echo "${src%.o}.c: calls $sym, which only a tool's file defines: lib/ never depends on a tool"
        libbad=$((libbad + 1))
    done < <(objs lib policies | xargs -r nm -A -u | awk '{ sub(/:$/, "", $1); print $NF, $1 }' |
        sort -k1,1 | join - <(echo "$tools_def"))
fi

[ "$libbad" -gt 0 ] && echo "not ok - lib/ calls no function of a tool: $libbad violations" ||
    echo "ok - lib/ calls no function of a tool"
if [ "$bad" -gt 0 ]; then
    echo "not ok - include dependency rules: $bad violations"
    exit 1
fi
echo "ok - include dependency rules"
[ "$libbad" -eq 0 ]
