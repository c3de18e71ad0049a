#!/usr/bin/env bash
# Live query-plan benchmark: costetl's plan against OpenCost's, on a real
# Prometheus loaded with a generated day. See benches/live/README.md.
#
# usage: benches/live/run.sh [--pods P] [--nodes N] [--clusters C] [--resolutions 5m,1m]
#                            [--scrape-seconds S] [--hours H] [--seed X] [--results FILE] [--keep]
#                            [--query-timeout 10m] [--no-build]
set -euo pipefail

pods=1000 nodes=60 clusters=2 resolutions=5m,1m scrape=300 hours=24 seed=1 keep=0 build=1 results="" query_timeout=10m
start=2023-11-14T00:00:00Z
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --pods) pods=$2; shift 2 ;;
        --nodes) nodes=$2; shift 2 ;;
        --clusters) clusters=$2; shift 2 ;;
        --resolutions) resolutions=$2; shift 2 ;;
        --scrape-seconds) scrape=$2; shift 2 ;;
        --hours) hours=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --results) results=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --no-build) build=0; shift ;;
        --query-timeout) query_timeout=$2; shift 2 ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
for v in "$pods" "$nodes" "$clusters" "$scrape" "$hours" "$seed"; do
    [[ $v =~ ^[0-9]+$ ]] || { echo "not a number: $v" >&2; exit 2; }
done
[[ $query_timeout =~ ^[0-9]+[smh]$ ]] || { echo "--query-timeout: expected e.g. 10m, got $query_timeout" >&2; exit 2; }
# The same limit for Prometheus (--query.timeout), costetl (its request
# timeout; it asks the server for 90% of it) and the per-query re-runs.
case $query_timeout in
    *s) unit=1 ;;
    *m) unit=60 ;;
    *h) unit=3600 ;;
esac
timeout_s=$(( ${query_timeout%?} * unit ))
export PROMETHEUS_QUERY_TIMEOUT=$query_timeout LIVE_TIMEOUT_S=$timeout_s

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# OpenCost's plan and backend_cost.sh: ../shared/tools next to the project
# (every developer's and CI's checkout has it), or $COSTETL_SHARED_TOOLS.
tools=$(cd "${COSTETL_SHARED_TOOLS:-$root/../shared/tools}" 2>/dev/null && pwd) || {
    echo "benches/live: no ${COSTETL_SHARED_TOOLS:-$root/../shared/tools} (opencost_plan.py, backend_cost.sh); set COSTETL_SHARED_TOOLS" >&2
    exit 2
}
live() { python3 "$here/live.py" "$@"; }
now() { date +%s.%N; }
since() { python3 -c "print(round($(now) - $1, 2))"; }
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

size="${clusters}c-${nodes}n-${pods}p-${scrape}s"
results=${results:-${TMPDIR:-/tmp}/costetl-live-$size.json}
work=$(mktemp -d "${TMPDIR:-/tmp}/costetl-live.XXXXXX")
prom_pid=""
cleanup() {
    if [ -n "$prom_pid" ] && kill -0 "$prom_pid" 2>/dev/null; then
        kill "$prom_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$prom_pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$prom_pid" 2>/dev/null || true
        wait "$prom_pid" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for bin in prometheus promtool python3; do
    command -v "$bin" >/dev/null || { echo "$bin is not installed" >&2; exit 1; }
done

# 1. Build.
if [ "$build" = 1 ]; then
    log "building costetl-sim and costetl (release)"
    (cd "$root" && cargo build --release -p costetl-sim -p costetl-cli) >&2
fi
target=${CARGO_TARGET_DIR:-$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
sim=$target/release/costetl-sim
costetl=$target/release/costetl
commit=$(git -C "$root" rev-parse --short HEAD)
dirty=$([ -n "$(git -C "$root" status --porcelain -- crates)" ] && echo true || echo false)

# 2. Data: generate, OpenMetrics, backfill, serve.
end=$(date -u -d "$start + $hours hours" +%Y-%m-%dT%H:%M:%SZ)
end_unix=$(date -u -d "$end" +%s)
if [ "$hours" = 24 ]; then range=1d; else range=${hours}h; fi

log "generating $size"
t=$(now)
"$sim" generate --clusters "$clusters" --nodes "$nodes" --pods "$pods" --hours "$hours" \
    --scrape-seconds "$scrape" --seed "$seed" --start "$start" --out "$work/scenario.json" 2>"$work/generate.log"
generate_s=$(since "$t")
containers=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(sum(len(p['containers']) for c in s['clusters'] for p in c['pods']))" "$work/scenario.json")
cat "$work/generate.log" >&2

t=$(now)
"$sim" openmetrics --scenario "$work/scenario.json" --out "$work/metrics.om" 2>"$work/openmetrics.log"
openmetrics_s=$(since "$t")
cat "$work/openmetrics.log" >&2
om_bytes=$(stat -c %s "$work/metrics.om")

log "backfilling $(( om_bytes / 1048576 )) MiB of OpenMetrics with promtool"
t=$(now)
promtool tsdb create-blocks-from openmetrics "$work/metrics.om" "$work/tsdb" >"$work/promtool.log" 2>&1 ||
    { tail -20 "$work/promtool.log" >&2; exit 1; }
backfill_s=$(since "$t")
tsdb_bytes=$(du -sb "$work/tsdb" | cut -f1)
rm -f "$work/metrics.om"

printf 'global: {}\n' >"$work/prometheus.yml"
t=$(now)
for attempt in 1 2 3; do
    port=$(live port)
    url=http://127.0.0.1:$port
    # min = max block duration 2h: no compaction, so the blocks promtool
    # wrote stay as they are for the whole run (otherwise Prometheus merges
    # them a minute after start, in the middle of the first plan).
    prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
        --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$port" \
        --storage.tsdb.min-block-duration=2h --storage.tsdb.max-block-duration=2h \
        --query.timeout="$query_timeout" \
        >"$work/prometheus.log" 2>&1 &
    prom_pid=$!
    if live ready "$url" "$prom_pid" 300; then break; fi
    if [ "$attempt" = 3 ] || ! grep -q 'address already in use' "$work/prometheus.log"; then
        tail -20 "$work/prometheus.log" >&2; exit 1
    fi
    wait "$prom_pid" 2>/dev/null || true
done
start_s=$(since "$t")
prom_version=$(prometheus --version 2>&1 | awk 'NR==1 {print $3}')
log "prometheus $prom_version ready at $url (pid $prom_pid) in $start_s s"

# Read every series once, so neither plan pays for the first touch of the
# blocks' pages.
live warm "$url" "$end_unix" "$range" >"$work/warm.json"
warm_s=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['wall_s'])" "$work/warm.json")
series=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['series'])" "$work/warm.json")
live rss "$prom_pid" >"$work/rss-ready.json"

cat >"$work/setup.json" <<EOF
{"clusters": $clusters, "nodes": $nodes, "pods": $pods, "containers": $containers, "hours": $hours,
 "scrape_seconds": $scrape, "seed": $seed, "window": "$start,$end", "series": $series,
 "openmetrics_bytes": $om_bytes, "tsdb_bytes": $tsdb_bytes, "generate_s": $generate_s,
 "openmetrics_s": $openmetrics_s, "backfill_s": $backfill_s, "start_s": $start_s, "warm_s": $warm_s,
 "prometheus_version": "$prom_version", "commit": "$commit", "dirty": $dirty,
 "query_timeout": "$query_timeout",
 "loadavg": "$(cut -d' ' -f1-3 /proc/loadavg)"}
EOF

# 3 and 4. Each resolution: costetl's plan, OpenCost's plan, then costetl's
# queries one at a time. Prometheus's peak RSS is reset before each plan
# and read after it.
IFS=, read -r -a res_list <<<"$resolutions"
for res in "${res_list[@]}"; do
    cap=$work/capture-$res
    log "costetl capture at $res"
    live rss-reset "$prom_pid" >"$work/rss-reset-costetl-$res.json"
    "$tools/backend_cost.sh" "$prom_pid" timeout 3600 "$costetl" capture --prometheus "$url" \
        --window "$start,$end" --resolution "$res" --out "$cap" \
        >"$work/cost-costetl-$res.json" 2>"$work/costetl-$res.log"
    live rss "$prom_pid" >"$work/rss-costetl-$res.json"
    tail -1 "$work/costetl-$res.log" >&2
    if [ -f "$cap/manifest.json" ]; then live capture-stats "$cap"; else echo '{}'; fi >"$work/stats-costetl-$res.json"

    log "OpenCost plan at $res"
    live rss-reset "$prom_pid" >"$work/rss-reset-opencost-$res.json"
    "$tools/backend_cost.sh" "$prom_pid" timeout 3600 python3 "$tools/opencost_plan.py" "$url" \
        "$end_unix" "$range" "$res" >"$work/cost-opencost-$res.json" 2>"$work/opencost-$res.log"
    live rss "$prom_pid" >"$work/rss-opencost-$res.json"
    grep '^{' "$work/opencost-$res.log" | tail -1 >"$work/stats-opencost-$res.json" || echo '{}' >"$work/stats-opencost-$res.json"
    tail -1 "$work/opencost-$res.log" >&2

    if [ -f "$cap/manifest.json" ]; then
        log "re-issuing costetl's $res queries one by one"
        live requery "$url" "$prom_pid" "$cap" "$work/requery-$res.json"
    fi
done
live rss "$prom_pid" >"$work/rss-end.json"

# 5. Results.
python3 - "$work" "$results" "$resolutions" <<'EOF'
import json, os, sys
work, out, resolutions = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
def load(name, default=None):
    p = os.path.join(work, name)
    if not os.path.exists(p) or os.path.getsize(p) == 0:
        return default
    with open(p) as f:
        return json.loads(f.read().strip().splitlines()[-1] if name.startswith(("cost-", "stats-")) else f.read())
plans, per_query = [], {}
for res in resolutions:
    for plan in ("costetl", "opencost"):
        cost = load(f"cost-{plan}-{res}.json", {"wall_s": None, "server_cpu_s": None, "exit": -1})
        stats = load(f"stats-{plan}-{res}.json", {}) or {}
        row = {"plan": plan, "resolution": res, "queries": stats.get("queries"),
               "wall_s": cost["wall_s"], "prometheus_cpu_s": cost["server_cpu_s"], "exit": cost["exit"],
               "bytes": stats.get("bytes", 0), "series": stats.get("series", 0),
               "largest_bytes": stats.get("largest_bytes"), "errors": stats.get("errors", [])}
        peak = load(f"rss-{plan}-{res}.json")
        if peak:
            peak["reset"] = (load(f"rss-reset-{plan}-{res}.json") or {}).get("reset", False)
        row["prometheus_peak_rss"] = peak
        if plan == "opencost":
            row.update(samples=stats.get("samples"), queries_wall_s=stats.get("wall_s"),
                       slowest_query_s=stats.get("slowest_s"))
        plans.append(row)
    rows = load(f"requery-{res}.json")
    if rows is not None:
        per_query[res] = rows
rss = {"after_ready": load("rss-ready.json"), "end": load("rss-end.json")}
rss["peak"] = max([rss["after_ready"].get("VmHWM", 0), rss["end"].get("VmHWM", 0)] +
                  [p["prometheus_peak_rss"].get("VmHWM", 0) for p in plans if p["prometheus_peak_rss"]])
result = {"setup": load("setup.json"), "plans": plans, "prometheus_rss": rss,
          "per_query": per_query}
with open(out, "w") as f:
    json.dump(result, f, indent=1)
EOF
log "results: $results"
live report "$results"
