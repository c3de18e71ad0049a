#!/usr/bin/env python3
"""Helpers of benches/live/run.sh (standard library only).

  live.py port                               a free TCP port on 127.0.0.1
  live.py ready URL PID TIMEOUT_S            wait until GET URL/-/ready answers 200 (PID must stay alive)
  live.py warm URL END_UNIX RANGE            read every series once (one count_over_time per metric name)
  live.py capture-stats DIR                  queries, bytes, series, largest body of a costetl capture
  live.py requery URL PID DIR OUT.json       re-issue each captured query alone, sequentially: wall,
                                             Prometheus CPU (/proc/PID/stat utime+stime) and bytes
  live.py rss PID                            the process's VmHWM and VmRSS in bytes (/proc/PID/status)
  live.py rss-reset PID                      reset its VmHWM to its current RSS (/proc/PID/clear_refs)
  live.py report RESULTS.json                the Markdown tables of a results file
"""
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# Client timeout of a query, seconds (run.sh sets it from --query-timeout).
TIMEOUT_S = float(os.environ.get("LIVE_TIMEOUT_S", "600"))


def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # State "Z": exited, not yet reaped.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ready(url, pid, timeout_s):
    deadline = time.monotonic() + float(timeout_s)
    while time.monotonic() < deadline:
        if not alive(pid):
            sys.exit(f"process {pid} exited before {url} was ready")
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/-/ready", timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"{url} not ready after {timeout_s} s")


def query(url, path, params):
    """POST a query; returns (body bytes, seconds, error or None)."""
    body = urllib.parse.urlencode(params).encode()
    t = time.monotonic()
    try:
        with urllib.request.urlopen(url.rstrip("/") + path, body, timeout=TIMEOUT_S) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        raw = e.read()
    except (urllib.error.URLError, OSError) as e:
        return b"", time.monotonic() - t, f"request failed: {e}"
    return raw, time.monotonic() - t, body_error(raw)


def body_error(raw):
    """None for a successful Prometheus API body, else what went wrong."""
    try:
        d = json.loads(raw)
    except ValueError:
        return f"not JSON: {raw[:200]!r}"
    if d.get("status") == "success":
        return None
    return f"{d.get('errorType', '?')}: {d.get('error', d)}"


def warm(url, end, rng):
    with urllib.request.urlopen(url.rstrip("/") + "/api/v1/label/__name__/values", timeout=60) as r:
        names = json.load(r)["data"]
    t = time.monotonic()
    series = 0
    for n in names:
        raw, _, err = query(url, "/api/v1/query", {"query": f"count(count_over_time({n}[{rng}]))", "time": end})
        if err:
            sys.exit(f"warm-up query on {n} failed: {err}")
        res = json.loads(raw)["data"]["result"]
        series += int(float(res[0]["value"][1])) if res else 0
    print(json.dumps({"metric_names": len(names), "series": series, "wall_s": round(time.monotonic() - t, 3)}))


def series_in(raw):
    if body_error(raw):
        return 0
    r = json.loads(raw)["data"]["result"]
    return len(r) if isinstance(r, list) else 1


def manifest(d):
    with open(os.path.join(d, "manifest.json")) as f:
        return json.load(f)["queries"]


def capture_stats(d):
    qs = manifest(d)
    total = largest = series = 0
    errors = []
    for q in qs:
        with open(os.path.join(d, q["file"]), "rb") as f:
            raw = f.read()
        total += len(raw)
        largest = max(largest, len(raw))
        series += series_in(raw)
        if body_error(raw):
            errors.append(f"{q['id']}: {body_error(raw)}")
    print(json.dumps({"queries": len(qs), "bytes": total, "series": series, "largest_bytes": largest,
                      "errors": errors}))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat, 12 and 13 after the command.
    return int(fields[11]) + int(fields[12])


def requery(url, pid, d, out):
    tick = os.sysconf("SC_CLK_TCK")
    rows = []
    for q in manifest(d):
        if q["kind"] == "instant":
            path, params = "/api/v1/query", {"query": q["promql"], "time": q["time"]}
        else:
            path = "/api/v1/query_range"
            params = {"query": q["promql"], "start": q["start"], "end": q["end"], "step": q["step"]}
        c0 = cpu_ticks(pid)
        raw, dt, err = query(url, path, params)
        c1 = cpu_ticks(pid)
        rows.append({"id": q["id"], "kind": q["kind"], "wall_s": round(dt, 4),
                     "prometheus_cpu_s": round((c1 - c0) / tick, 2), "bytes": len(raw),
                     "series": 0 if err else series_in(raw), "error": err, "promql": q["promql"]})
        if err:
            print(f"query {q['id']} failed: {err}", file=sys.stderr)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)


def rss(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    vals[k] = int(v.split()[0]) * 1024
    except FileNotFoundError:
        print(f"process {pid} is gone", file=sys.stderr)
    print(json.dumps(vals))


def seconds(d):
    """Seconds in a duration like 30s, 5m, 1h."""
    return int(d[:-1]) * {"s": 1, "m": 60, "h": 3600}[d[-1]]


def rss_reset(pid):
    # "5" resets the peak RSS (Linux 4.0+). Without the right to, the
    # peaks that follow are since the start, which the report says.
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        print(json.dumps({"reset": True}))
    except OSError as e:
        print(json.dumps({"reset": False, "error": str(e)}))


def mib(b):
    return f"{b / 2**20:,.1f} MiB"


def report(path):
    with open(path) as f:
        r = json.load(f)
    s = r["setup"]
    print(f"### Live plan benchmark: {s['clusters']} cluster(s) x {s['nodes']} nodes, {s['pods']} pods "
          f"({s['containers']} containers), {s['hours']} h at {s['scrape_seconds']} s scrapes\n")
    print(f"Prometheus {s['prometheus_version']}, {s['series']:,} series; OpenMetrics {mib(s['openmetrics_bytes'])}, "
          f"TSDB {mib(s['tsdb_bytes'])}; generate {s['generate_s']} s, openmetrics {s['openmetrics_s']} s, "
          f"backfill {s['backfill_s']} s, start {s['start_s']} s, warm-up read {s['warm_s']} s; "
          f"query timeout {s['query_timeout']}; load average at start {s['loadavg']}. "
          f"costetl at {s['commit']}{' (uncommitted changes in crates/)' if s['dirty'] else ''}.\n")
    print("| plan | resolution | queries | wall s | Prometheus CPU s | bytes | series | largest response bytes "
          "| Prometheus peak RSS |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in r["plans"]:
        largest = f"{p['largest_bytes']:,}" if p.get("largest_bytes") is not None else "n/a"
        status = "" if p["exit"] == 0 else f" (failed, exit {p['exit']})"
        if p.get("errors"):
            status += f" ({len(p['errors'])} error responses)"
        peak = p.get("prometheus_peak_rss") or {}
        peak_s = mib(peak["VmHWM"]) + ("" if peak.get("reset") else " (since start)") if peak.get("VmHWM") else "n/a"
        print(f"| {p['plan']}{status} | {p['resolution']} | {p.get('queries', 'n/a')} | {p['wall_s']} | "
              f"{p['prometheus_cpu_s']} | {p.get('bytes', 0):,} | {p.get('series', 0):,} | {largest} | {peak_s} |")
    for p in r["plans"]:
        for e in p.get("errors") or []:
            print(f"\n{p['plan']} at {p['resolution']}: {e}")
    rss = r["prometheus_rss"]
    print(f"\nPrometheus peak RSS (VmHWM): {mib(rss['after_ready'].get('VmHWM', 0))} after start and warm-up, "
          f"{mib(rss['peak'])} over the whole run; per plan, the peak while it ran (reset before each). "
          f"RSS at the end: {mib(rss['end'].get('VmRSS', 0))}.\n")
    failed = [f"{p['plan']} at {p['resolution']}" for p in r["plans"] if p["exit"] != 0 or p.get("errors")]
    answered = {x["id"] for rows in r["per_query"].values() for x in rows if x["series"] > 0}
    for res, rows in r["per_query"].items():
        print(f"costetl's 10 most expensive queries at {res}, each issued alone "
              f"(sum of all {len(rows)}: {sum(x['wall_s'] for x in rows):.2f} s wall, "
              f"{sum(x['prometheus_cpu_s'] for x in rows):.2f} s Prometheus CPU):\n")
        print("| query | kind | wall s | Prometheus CPU s | bytes | series |")
        print("|---|---|---:|---:|---:|---:|")
        top = sorted(rows, key=lambda x: (x["prometheus_cpu_s"], x["wall_s"]), reverse=True)[:10]
        for x in top:
            err = f" (error: {x['error'][:80]})" if x.get("error") else ""
            print(f"| {x['id']}{err} | {x['kind']} | {x['wall_s']:.3f} | {x['prometheus_cpu_s']:.2f} | "
                  f"{x['bytes']:,} | {x['series']:,} |")
        empty = [x["id"] for x in rows if x["series"] == 0 and not x.get("error")]
        if empty:
            print(f"\nEmpty answers at {res}: {', '.join(empty)}.")
        lost = [i for i in empty if i in answered]
        if lost:
            print(f"\nWarning: at {res}, {', '.join(lost)} answered nothing but answer at another resolution"
                  + (f" ({res} is shorter than the {s['scrape_seconds']} s scrape interval: a rate() over two "
                     f"steps can hold fewer than two samples)" if seconds(res) < s["scrape_seconds"] else "")
                  + ".")
        slow = [x["id"] for x in rows if x["wall_s"] > 108]
        failed.extend(f"{x['id']} re-issued alone at {res}" for x in rows if x.get("error"))
        if slow:
            print(f"\nAlone, these take longer than costetl's default server timeout (108 s, 90% of its 2 min "
                  f"request timeout): {', '.join(slow)}.")
        print()
    if failed:
        sys.exit(f"failed: {'; '.join(failed)}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "port":
        port()
    elif cmd == "ready":
        ready(*args)
    elif cmd == "warm":
        warm(*args)
    elif cmd == "capture-stats":
        capture_stats(*args)
    elif cmd == "requery":
        requery(*args)
    elif cmd == "rss":
        rss(*args)
    elif cmd == "rss-reset":
        rss_reset(*args)
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
