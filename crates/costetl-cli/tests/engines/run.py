"""Runs the SQL of docs/etl.md, verbatim, against a costetl store.

Called by tests/engines.rs, one engine per call:

    run.py parse  DOCS                     the Athena, Trino and Spark DDL and
                                           queries parsed with sqlglot; prints
                                           each CREATE TABLE's columns
    run.py duckdb DOCS STORE [--unpruned]  the DuckDB query
    run.py spark  DOCS STORE [--unpruned]  the Spark DDL, then the query

`s3://BUCKET/PREFIX/` in the docs becomes the store directory.
`--unpruned` drops the query's WHERE clause: the control that shows a
filtered query would have read the files it skipped. Prints JSON on
stdout; any failure is a non-zero exit with the engine's error.
"""

import json
import re
import sys

PLACEHOLDER = "s3://BUCKET/PREFIX/"


def blocks(docs):
    """The ```sql blocks of the docs, by their first line (a comment)."""
    found = {}
    for body in re.findall(r"```sql\n(.*?)```", open(docs).read(), re.S):
        first = body.splitlines()[0]
        if first.startswith("-- "):
            found[first[3:].split(":")[0]] = body
    return found


def block(docs, title):
    try:
        return blocks(docs)[title]
    except KeyError:
        sys.exit(f"docs/etl.md has no ```sql block starting `-- {title}:`")


def statements(sql):
    """Statements split at a `;` that ends a line."""
    return [s.strip() for s in re.split(r";\s*\n", sql) if s.strip() and not all(
        line.startswith("--") for line in s.strip().splitlines())]


def unpruned(sql):
    return re.sub(r"\nWHERE [^\n]*", "", sql)


def parse(docs):
    import sqlglot
    from sqlglot import exp

    out = {}
    for title, dialect in [("Athena", "athena"), ("Trino", "trino"),
                           ("Spark SQL", "spark"), ("Spark SQL, Trino", "trino"),
                           ("DuckDB", "duckdb")]:
        for sql in statements(block(docs, title)):
            tree = sqlglot.parse_one(sql, read=dialect,
                                     error_level=sqlglot.ErrorLevel.RAISE)
            if isinstance(tree, exp.Create):
                schema = tree.this
                columns = [[c.name, c.args["kind"].sql(dialect=dialect)]
                           for c in schema.expressions
                           if isinstance(c, exp.ColumnDef)]
                props = tree.args.get("properties")
                partitioned = []
                for p in (props.expressions if props else []):
                    if isinstance(p, exp.PartitionedByProperty):
                        partitioned = [[c.name, c.args["kind"].sql(dialect=dialect)]
                                       if isinstance(c, exp.ColumnDef) else [c.name, None]
                                       for c in p.this.expressions]
                out[title] = {"columns": columns, "partitioned_by": partitioned,
                              "sql": tree.sql(dialect=dialect)}
    print(json.dumps(out))


def duckdb_query(docs, store, prune):
    import duckdb

    sql = block(docs, "DuckDB").replace(PLACEHOLDER, store.rstrip("/") + "/")
    rows = duckdb.sql(sql if prune else unpruned(sql)).fetchall()
    print(json.dumps([[r[0], r[1], r[2]] for r in rows]))


def spark_query(docs, store, prune):
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[1]").appName("costetl-engines")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "1")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    location = "file://" + store.rstrip("/") + "/"
    for sql in statements(block(docs, "Spark SQL").replace(PLACEHOLDER, location)):
        spark.sql(sql)
    query = statements(block(docs, "Spark SQL, Trino"))[0]
    rows = spark.sql(query if prune else unpruned(query)).collect()
    print(json.dumps([[r[0], r[1], r[2]] for r in rows]))
    spark.stop()


def main():
    mode, docs = sys.argv[1], sys.argv[2]
    prune = "--unpruned" not in sys.argv
    if mode == "parse":
        parse(docs)
    elif mode == "duckdb":
        duckdb_query(docs, sys.argv[3], prune)
    elif mode == "spark":
        spark_query(docs, sys.argv[3], prune)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
