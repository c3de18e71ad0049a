"""What a fleet's ETL store costs a SQL engine to scan, pruned or not.

    python3 benches/sql/scan_cost.py SEED.parquet [--clusters 100] [--days 91]

Lays out a store of CLUSTERS x DAYS daily files in costetl's partitioned
layout (allocations/resolution=1d/cluster=<id>/day=<YYYY-MM-DD>/…), each a
hard link to SEED (a file `costetl etl build` wrote: every partition holds
real bytes, none uses disk), then asks DuckDB the same questions three
ways and reports its own profile (files scanned, bytes read, wall):

- one day, every cluster: by the `day` partition (pruned), and by the
  `window_start` column (what the old `federated/<cluster>/…/<start>-<end>`
  layout allowed: every file opened);
- one cluster's day: by `cluster` and `day` (pruned).

Prints one JSON document. docs/benchmarks.md has a run.
"""

import argparse
import datetime
import json
import os
import tempfile
import time

import duckdb

FIRST_DAY = datetime.date(2023, 9, 1)


def lay_out(seed, root, clusters, days):
    for c in range(clusters):
        for d in range(days):
            day = FIRST_DAY + datetime.timedelta(days=d)
            start = int(datetime.datetime(day.year, day.month, day.day,
                                          tzinfo=datetime.timezone.utc).timestamp())
            part = os.path.join(root, "allocations", "resolution=1d",
                                f"cluster=cluster-{c:03}", f"day={day}")
            os.makedirs(part, exist_ok=True)
            os.link(seed, os.path.join(part, f"{start}-{start + 86400}.parquet"))


def profile(root, where):
    con = duckdb.connect()
    con.sql("PRAGMA enable_profiling='json'")
    glob = os.path.join(root, "allocations/resolution=1d/*/*/*.parquet")
    sql = (f"EXPLAIN ANALYZE SELECT namespace, sum(total_cost) FROM "
           f"read_parquet('{glob}', hive_partitioning = true) WHERE {where} GROUP BY 1")
    started = time.perf_counter()
    prof = json.loads(con.sql(sql).fetchall()[0][1])
    wall = time.perf_counter() - started

    def scan(node):
        info = node.get("extra_info", {})
        if info.get("Function") == "READ_PARQUET":
            return info
        for child in node.get("children", []):
            found = scan(child)
            if found:
                return found
        return None

    info = next(filter(None, map(scan, prof["operator"])))
    return {
        "where": where,
        "files_scanned": info.get("Scanning Files", info.get("Total Files Read")),
        "bytes_read": prof["io"]["total_bytes_read"],
        "wall_seconds": round(wall, 3),
    }


def main():
    args = argparse.ArgumentParser()
    args.add_argument("seed")
    args.add_argument("--clusters", type=int, default=100)
    args.add_argument("--days", type=int, default=91)
    a = args.parse_args()
    day = FIRST_DAY + datetime.timedelta(days=a.days // 2)
    with tempfile.TemporaryDirectory() as root:
        lay_out(a.seed, root, a.clusters, a.days)
        start = f"TIMESTAMPTZ '{day} 00:00:00+00'"
        runs = [
            profile(root, f"day = DATE '{day}'"),
            profile(root, f"window_start = {start}"),
            profile(root, f"cluster = 'cluster-042' AND day = DATE '{day}'"),
        ]
    print(json.dumps({
        "clusters": a.clusters,
        "days": a.days,
        "files": a.clusters * a.days,
        "file_bytes": os.path.getsize(a.seed),
        "store_bytes": a.clusters * a.days * os.path.getsize(a.seed),
        "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()
