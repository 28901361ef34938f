#!/usr/bin/env bash
# stream.sh - coffer's backup and restore throughput and memory against peers, on the same
# data in the same run: tar|zstd -3 -T0, restic and borg (encryption on, as users run them).
# coffer's full backup is timed in both volume layouts: 3 (incremental, the default) and 1
# (`incremental = no`, one stream). Prints medians of RUNS runs and the ratios; then incremental rows (a no-change re-run and a
# 1%-changed re-run of each tool on the same tree, with the bytes stored). Never part of the
# pass/fail suite.
#
#   bench/stream.sh [SIZE_MIB]        (default 1024; data kept in $BENCH_DIR between runs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
size=${1:-1024}
runs=${RUNS:-4}
B=${BENCH_DIR:-/var/tmp/coffer-bench}
bin=${COFFER_BIN:-$root/bin}   # another build's bin/ to compare builds on the same data
"$root/deploy/install-deps.sh" build bench
[ -n "${COFFER_BIN:-}" ] || make -s -C "$root" all

mkdir -p "$B"
data=$B/data-$size
if [ ! -f "$data/.complete" ]; then
    echo "generating $size MiB of mixed data (half SQL-like text, half random) in $data"
    rm -rf "$data"
    python3 "$here/gen-data.py" "$data" "$size"
    touch "$data/.complete"
fi
small=$B/data-256
if [ ! -f "$small/.complete" ]; then
    rm -rf "$small"; python3 "$here/gen-data.py" "$small" 256; touch "$small/.complete"
fi
bytes=$(du -sb --exclude=.complete "$data" | cut -f1)
w=$B/work; rm -rf "$w"; mkdir -p "$w"
export RESTIC_PASSWORD=bench-passphrase BORG_PASSPHRASE=bench-passphrase
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export COFFER_NO_PROGRESS=1

conf() {  # conf DIR SRC [SOURCE-LINE]
    head -c 32 /dev/urandom >"$1.key"; chmod 600 "$1.key"
    printf '[repository]\npath = %s\nkey-file = %s\n[source data]\ntype = volume\npath = %s\n%s\n[job j]\nsources = data\n[catalog]\npath = %s.db\n' \
        "$1" "$1.key" "$2" "${3:-}" "$1" >"$1.conf"
    "$bin/backupd" --config "$1.conf" --quiet init
}

# timed NAME CMD...: run, append "seconds rss_kib" to $w/NAME
timed() {
    local name=$1; shift
    sync
    /usr/bin/time -f '%e %M' -o "$w/.t" "$@" >/dev/null 2>"$w/.err" || { cat "$w/.err" >&2; exit 1; }
    cat "$w/.t" >>"$w/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
sec() { cut -d' ' -f1 "$w/$1" | median; }
rss() { cut -d' ' -f2 "$w/$1" | sort -n | tail -1; }

cat "$data"/*/* >/dev/null   # warm cache: every peer reads from memory
for i in $(seq 1 "$runs"); do
    echo "run $i/$runs"
    # fresh repositories each run: restic and borg would otherwise deduplicate
    rm -rf "$w"/c "$w"/c.* "$w"/c1 "$w"/c1.* "$w"/restic "$w"/borg "$w"/t.zst
    conf "$w/c" "$data"
    conf "$w/c1" "$data" "incremental = no"
    restic init --repo "$w/restic" >/dev/null
    borg init -e repokey "$w/borg" >/dev/null 2>&1
    # each round starts with a different tool, so that no tool always pays for what the
    # round before left behind (writeback, deleted trees)
    tools=(coffer coffer1 tarzstd restic borg)
    order=("${tools[@]:$(( (i - 1) % 5 ))}" "${tools[@]:0:$(( (i - 1) % 5 ))}")
    for t in "${order[@]}"; do
        case $t in
        coffer)  timed b_coffer "$bin/backupd" --config "$w/c.conf" --quiet run j ;;
        coffer1) timed b_coffer1 "$bin/backupd" --config "$w/c1.conf" --quiet run j ;;
        tarzstd) timed b_tarzstd sh -c "tar -cf - -C '$data' . | zstd -3 -T0 -q > '$w/t.zst'" ;;
        restic)  timed b_restic restic -r "$w/restic" backup --quiet "$data" ;;
        borg)    timed b_borg borg create --compression zstd,3 "$w/borg::a" "$data" ;;
        esac
    done
    for t in "${order[@]}"; do
        [ $t != coffer1 ] || continue
        rm -rf "$w/r-$t"
        [ $t = coffer ] || mkdir -p "$w/r-$t"
        case $t in
        coffer)  timed r_coffer "$bin/restore" --config "$w/c.conf" --quiet --source data --at latest --to "$w/r-coffer" ;;
        tarzstd) timed r_tarzstd sh -c "zstd -d -q -c '$w/t.zst' | tar -xf - -C '$w/r-tarzstd'" ;;
        restic)  timed r_restic restic -r "$w/restic" restore latest --target "$w/r-restic" ;;
        borg)    timed r_borg sh -c "cd '$w/r-borg' && borg extract '$w/borg::a'" ;;
        esac
        rm -rf "$w/r-$t"
        sync
    done
done
# memory does not grow with the input: the same backup at 256 MiB
rm -rf "$w"/c256 "$w"/c256.*
conf "$w/c256" "$small"
timed b_coffer256 "$bin/backupd" --config "$w/c256.conf" --quiet run j

# incremental: the mixed data plus 20,000 small files, backed up once by each tool; then the
# re-run with nothing changed (median of 3) and the re-run after 1% of the tree's bytes
# changed (whole files rewritten: 1% of the small files, then data files that fit in the rest
# of the 1%, then a new file for what is left), timed, with the bytes each repository grew by
tree=$w/tree; rm -rf "$tree"; mkdir -p "$tree"
cp -a "$data"/. "$tree/data"; rm -f "$tree/data/.complete"
python3 - "$tree/small" <<'PY2'
import os, sys
for d in range(100):
    p = os.path.join(sys.argv[1], "d%02d" % d); os.makedirs(p)
    for f in range(200):
        with open(os.path.join(p, "f%05d" % f), "w") as fh:
            fh.write("small file %d/%d %s\n" % (d, f, "y" * (f * 7 % 400)))
PY2
tbytes=$(du -sb "$tree" | cut -f1)
rm -rf "$w"/ci "$w"/ci.* "$w"/ri "$w"/bi
conf "$w/ci" "$tree"
restic init --repo "$w/ri" >/dev/null
borg init -e repokey "$w/bi" >/dev/null 2>&1
n=0
incr() {  # incr PHASE: one backup by each tool
    n=$((n + 1))
    timed "$1_coffer" "$bin/backupd" --config "$w/ci.conf" --quiet run j
    timed "$1_restic" restic -r "$w/ri" backup --quiet "$tree"
    timed "$1_borg" borg create --compression zstd,3 "$w/bi::a$n" "$tree"
}
grown() { local t; for t in ci ri bi; do du -sb "$w/$t" | cut -f1; done; }
incr i_full
for k in 1 2 3; do incr i_same; done
read -r g0c g0r g0b < <(grown | paste -sd' ')
changed=$(python3 - "$tree" "$tbytes" <<'PY2'
import os, sys
root, total = sys.argv[1], int(sys.argv[2])
small = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(root, "small")) for f in fs)
done = 0
for p in small[::100]:
    size = os.path.getsize(p)
    with open(p, "w") as fh: fh.write("changed " + "z" * max(0, size - 8))
    done += size
big = sorted((os.path.getsize(os.path.join(dp, f)), os.path.join(dp, f))
             for dp, _, fs in os.walk(os.path.join(root, "data")) for f in fs)
for size, p in big:   # whole files that fit in what is left of the 1%
    if done + size > total // 100: continue
    with open(p, "wb") as fh: fh.write(os.urandom(size))
    done += size
if done < total // 100:   # the rest as a new file (new photos on a media volume)
    with open(os.path.join(root, "data", "new-1pct.bin"), "wb") as fh:
        fh.write(os.urandom(total // 100 - done))
    done = total // 100
print(done)
PY2
)
incr i_pct
read -r g1c g1r g1b < <(grown | paste -sd' ')

mbs() { awk -v b="$bytes" -v s="$1" 'BEGIN {printf "%.0f", b / 1e6 / s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b / a}'; }
echo
echo "data: $(awk -v b="$bytes" 'BEGIN {printf "%.0f", b/1048576}') MiB, half text, half random; median of $runs runs; $(nproc) cores"
printf '%-28s %9s %8s %10s %s\n' "" seconds "MB/s" "peak RSS" "coffer vs this"
for t in coffer coffer1 tarzstd restic borg; do
    case $t in coffer) n="backup coffer (layout 3)";; coffer1) n="backup coffer (layout 1)";; tarzstd) n="backup tar | zstd -3 -T0";; restic) n="backup restic";; borg) n="backup borg (zstd,3)";; esac
    printf '%-28s %9s %8s %7s MiB %s\n' "$n" "$(sec b_$t)" "$(mbs "$(sec b_$t)")" "$(( $(rss b_$t) / 1024 ))" \
        "$([ $t = coffer ] || echo "$(ratio "$(sec b_coffer)" "$(sec b_$t)")x")"
done
for t in coffer tarzstd restic borg; do
    case $t in coffer) n="restore coffer";; tarzstd) n="restore zstd -d | tar -x";; restic) n="restore restic";; borg) n="restore borg extract";; esac
    printf '%-28s %9s %8s %7s MiB %s\n' "$n" "$(sec r_$t)" "$(mbs "$(sec r_$t)")" "$(( $(rss r_$t) / 1024 ))" \
        "$([ $t = coffer ] || echo "$(ratio "$(sec r_coffer)" "$(sec r_$t)")x")"
done
echo "coffer backup peak RSS: $(( $(rss b_coffer256) / 1024 )) MiB at 256 MiB of input, $(( $(rss b_coffer) / 1024 )) MiB at $size MiB"
echo "(coffer vs this: the other's time / coffer's time; above 1 means coffer is faster)"
echo "tar | zstd vs coffer: layout 3 $(ratio "$(sec b_coffer)" "$(sec b_tarzstd)")x, layout 1 $(ratio "$(sec b_coffer1)" "$(sec b_tarzstd)")x"
pct() { awk -v a="$1" -v b="$tbytes" 'BEGIN {printf "%.2f%%", 100 * a / b}'; }
echo
echo "incremental: $(awk -v b="$tbytes" 'BEGIN {printf "%.0f", b/1048576}') MiB tree (the data plus 20,000 small files); $changed bytes ($(pct "$changed")) rewritten"
printf '%-28s %9s %14s %s\n' "" seconds "stored bytes" "coffer vs this"
for t in coffer restic borg; do
    printf '%-28s %9s %14s %s\n' "full $t" "$(sec i_full_$t)" "" ""
done
for t in coffer restic borg; do
    printf '%-28s %9s %14s %s\n' "no-change re-run $t" "$(sec i_same_$t)" "" \
        "$([ $t = coffer ] || echo "$(ratio "$(sec i_same_coffer)" "$(sec i_same_$t)")x")"
done
for t in coffer restic borg; do
    case $t in coffer) d=$((g1c - g0c));; restic) d=$((g1r - g0r));; borg) d=$((g1b - g0b));; esac
    printf '%-28s %9s %14s %s\n' "1%-changed re-run $t" "$(sec i_pct_$t)" "$d ($(pct $d))" \
        "$([ $t = coffer ] || echo "$(ratio "$(sec i_pct_coffer)" "$(sec i_pct_$t)")x")"
done
rm -rf "$w"
