#!/usr/bin/env bash
# alert_rules.sh - the alerts and the dashboard in deploy/ (docs/METRICS.md "Alerts and
# dashboard"): promtool accepts the rules and every alert fires on synthetic series exactly when
# it should (tests/fixtures/alert_rules.test.yml); every metric the rules and the Grafana
# dashboard query is listed in docs/METRICS.md, and the metrics METRICS.md lists as written are
# exactly those a real `backupd run` writes to its textfile.
source "$COFFER_TESTS/lib/testlib.sh"

top=$(cd "$COFFER_TESTS/.." && pwd)
rules="$top/deploy/prometheus/coffer.rules.yml"
dash="$top/deploy/grafana/coffer.json"
doc="$top/docs/METRICS.md"

ok "promtool check rules" promtool check rules "$rules"
ok "promtool test rules on synthetic series" promtool test rules "$COFFER_TESTS/fixtures/alert_rules.test.yml"
check "every alert of the rules has a test" bash -c "diff <(grep -o 'alert: [A-Za-z]*' '$rules' | sort -u | cut -c8-) \
    <(grep -o 'alertname: [A-Za-z]*' '$COFFER_TESTS/fixtures/alert_rules.test.yml' | sort -u | cut -c12-)"

# the dashboard: valid JSON whose every query is valid PromQL (checked as recording rules)
python3 - "$dash" "$T/dash.rules.yml" "$T/dash.metrics" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
for v in d["templating"]["list"]:
    q = v.get("query")
    if isinstance(q, dict):
        exprs.append(re.sub(r"label_values\((.*), *\w+\)", r"\1", q["query"]))
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(e.replace("$instance", ".*"))))
with open(sys.argv[3], "w") as f:
    f.write("\n".join(sorted(set(re.findall(r"\bcoffer_[a-z_]+", " ".join(exprs))))) + "\n")
PY
check "the dashboard is JSON with queries" test -s "$T/dash.metrics"
ok "every dashboard query is valid PromQL" promtool check rules "$T/dash.rules.yml"

# what METRICS.md lists: under "## The textfile" the metrics a run writes, then (after "###
# Planned", when there is one) those nothing writes yet; rows of other sections (the daemon's endpoint) are "other"
awk '/^## / {w = /^## The textfile/; p = 0} /^### Planned/ {p = 1; w = 0}
     match($0, /^\| `coffer_[a-z_]+`/) { n=substr($0, 4, RLENGTH-4); print (p ? "planned " : w ? "written " : "other ") n }' \
    "$doc" | sort -u >"$T/doc.all"
awk '$1=="written" {print $2}' "$T/doc.all" >"$T/doc.written"
awk '{print $2}' "$T/doc.all" | sort -u >"$T/doc.names"
check "METRICS.md lists metrics" test -s "$T/doc.written"
check "every metric the dashboard queries is in METRICS.md" bash -c "comm -23 '$T/dash.metrics' '$T/doc.names' | tee /dev/stderr | grep -q . && exit 1 || exit 0"
grep -o '\bcoffer_[a-z_]*' "$rules" | sort -u >"$T/rules.metrics"
check "every metric the rules use is in METRICS.md" bash -c "comm -23 '$T/rules.metrics' '$T/doc.names' | tee /dev/stderr | grep -q . && exit 1 || exit 0"

# what a real run writes: every family is declared (# TYPE) even when it has no sample yet
mkdir -p "$T/src" "$T/prom"
echo "payload $RANDOM" >"$T/src/f"
make_local_conf "$T/d" "$T/src"
printf '\n[metrics]\ntextfile-dir = %s\n' "$T/prom" >>"$T/d/coffer.conf"
ok "init" backupd --config "$T/d/coffer.conf" init
ok "a run writes the textfile" backupd --config "$T/d/coffer.conf" run nightly
awk '$1 == "#" && $2 == "TYPE" {print $3}' "$T/prom/coffer.prom" | sort -u >"$T/written"
check "the textfile declares metrics" test -s "$T/written"
check "METRICS.md lists exactly the metrics a run writes" diff "$T/doc.written" "$T/written"
check "no planned metric is written already (move it to its table)" \
    bash -c "! grep -qxFf <(awk '\$1==\"planned\" {print \$2}' '$T/doc.all') '$T/written'"
