"""`make bench` (third part): export rate for 100k records (CSV, and a SQL aggregate), against moto."""

from __future__ import annotations

import time

from bench.stack import bench_stack


def main(records: int = 100_000) -> None:
    from sluice.store.dynamo import batch_write
    from sluice.store.records import RecordMeta, partition, shard_of

    with bench_stack() as stack:
        clients = stack.clients
        stamp = RecordMeta(1, 0, 0, "bench", 0, "created").encode()
        items = ({"pk": {"S": partition("bench", "contact", shard_of(f"u{i}@example.org", 8))},
                  "sk": {"S": f"u{i}@example.org"},
                  "a": {"M": {"email": {"S": f"u{i}@example.org"}, "name": {"S": f"User {i}"},
                              "age": {"N": str(i % 100)}, "tier": {"S": ("gold", "silver")[i % 2]},
                              "score": {"N": f"{i % 1000}.25"}, "active": {"BOOL": i % 3 == 0}}},
                  "m": {"S": stamp}} for i in range(records))
        batch_write(clients.dynamodb, clients.settings.records_table, items)  # seeded directly: not timed
        for label, body in (("CSV, all records", {"itemType": "contact"}),
                            ("SQL aggregate", {"itemType": "contact", "sqlQuery":
                                               "SELECT tier, count(*) n, avg(age) FROM records GROUP BY tier"})):
            started = time.perf_counter()
            _, export = stack.call("POST", "/v1/exports", body)
            stack.drain()
            elapsed = time.perf_counter() - started
            _, result = stack.call("GET", f"/v1/exports/{export['exportId']}")
            assert result["status"] == "Completed", result
            print(f"export {label}: {records:,} records read in {elapsed:.1f} s = {records / elapsed:,.0f} records/s "
                  f"({result['recordsProcessed']:,} rows written)")


if __name__ == "__main__":
    main()
