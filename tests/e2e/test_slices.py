"""Issue 22 on the local stack: a 200,000-row CSV (~10 MB) read in 1 MB slices (`SLUICE_PARAMETERS=
"IngestSliceBytes=1000000"`), with a quoted multi-line field across a slice boundary and a key repeated 150,000
rows after its first appearance: exact counts, at least 5 slices, exact row and line numbers, and the duplicate
reported where it was first seen. Its result files are written in steps of 8 chunks (`ResultStepChunks=8`: 40
chunks of 5,000 rows, so 5 steps), each carrying its share of the ~12 MB succeeded file on to the next (a segment
forms at 64 MiB; `tests/integration/test_result_steps.py` joins several), the last joining it in S3."""

from __future__ import annotations

import csv
import io
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from sluice_local.spawn import spawn_stack
from tests.e2e.conftest import DEV_KEYS, Stack
from tests.harness import CONTACT_SCHEMA

SLICE = 1_000_000
ROWS = 200_000
FIRST_ROW = 1_000
DUPLICATE_ROW = FIRST_ROW + 150_000


@pytest.fixture(scope="module")
def sliced_stack() -> Iterator[Stack]:
    parameters = f"IngestSliceBytes={SLICE},RowsPerChunk=5000,ResultStepChunks=8"
    spawned = spawn_stack(DEV_KEYS, {"SLUICE_PARAMETERS": parameters}, timeout=60)
    yield Stack(spawned.api, spawned.aws, spawned.process)
    spawned.process.send_signal(signal.SIGTERM)
    try:
        spawned.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spawned.process.kill()


def big_csv() -> tuple[bytes, int]:
    """Rows e{n}@x.org (row 151,000 repeats row 1,000's key); the record crossing byte 1,000,000 holds a quoted
    field whose line break lies past that offset. Returns the file and that record's row number."""
    out = io.StringIO()
    out.write("email,name,age\n")
    size = len("email,name,age\n")
    multiline = 0
    for n in range(1, ROWS + 1):
        email = f"e{FIRST_ROW}@example.org" if n == DUPLICATE_ROW else f"e{n}@example.org"
        name = f"Person number {n:06d} Smith"
        if not multiline and size + 150 >= SLICE:  # its line break 10 bytes past the boundary
            filler = "f" * (SLICE + 10 - size - len(f'{email},"starts before the boundary {n}'))
            name = f'"starts before the boundary {n}{filler}\nends after it"'
            multiline = n
        line = f"{email},{name},{n % 100}\n"
        if multiline == n:
            assert size < SLICE and size + line.index("\n") == SLICE + 10  # the boundary inside the quoted field
        out.write(line)
        size += len(line)
    return out.getvalue().encode(), multiline


def test_a_10_mb_file_in_1_mb_slices_is_exact(sliced_stack: Stack) -> None:
    stack = sliced_stack
    reply = requests.put(f"{stack.api}/v1/item-types/contact", json=CONTACT_SCHEMA, headers=stack.headers())
    assert reply.status_code in (200, 201), reply.text
    body, multiline = big_csv()
    assert 9_000_000 < len(body) < 11_000_000
    job = requests.post(f"{stack.api}/v1/jobs", json={"itemType": "contact", "fileName": "big.csv"},
                        headers=stack.headers()).json()
    assert requests.put(job["uploadUrl"], data=body, timeout=60).status_code == 200
    started = time.time()
    done = stack.wait_job(job["jobId"], timeout=900)
    elapsed = time.time() - started
    assert done["status"] == "Completed", done
    assert done["counts"] == {"total": ROWS, "processed": ROWS, "created": ROWS - 1, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 1, "unprocessed": 0}
    (file,) = done["files"]
    assert file["rows"] == ROWS and file["slices"] >= 5, file
    # the duplicate's physical line: its row + the header + the multi-line record's second line
    assert [(e["row"], e["line"], e["field"], e["message"]) for e in done["errors"]] == [
        (DUPLICATE_ROW, DUPLICATE_ROW + 2, "email", f"duplicate key, first seen at row {FIRST_ROW}")]
    record = requests.get(f"{stack.api}/v1/records/contact/e{multiline}@example.org", headers=stack.headers()).json()
    assert record["attributes"]["name"].startswith(f"starts before the boundary {multiline}ff")
    assert record["attributes"]["name"].endswith("f\nends after it")
    after = requests.get(f"{stack.api}/v1/records/contact/e{multiline + 1}@example.org",
                         headers=stack.headers()).json()
    assert after["attributes"] == {"email": f"e{multiline + 1}@example.org",
                                   "name": f"Person number {multiline + 1:06d} Smith", "age": (multiline + 1) % 100}
    link = requests.get(f"{stack.api}/v1/jobs/{job['jobId']}/results/failed", headers=stack.headers()).json()
    failed = list(csv.reader(io.StringIO(requests.get(link["url"], timeout=30).text)))
    assert failed[1][:4] == [f"e{FIRST_ROW}@example.org", f"Person number {DUPLICATE_ROW:06d} Smith",
                             str(DUPLICATE_ROW % 100), str(DUPLICATE_ROW)]
    link = requests.get(f"{stack.api}/v1/jobs/{job['jobId']}/results/succeeded", headers=stack.headers()).json()
    succeeded = requests.get(link["url"], timeout=60).content
    assert len(succeeded) > 10 * 1024**2  # carried through five steps
    rows = list(csv.reader(io.StringIO(succeeded.decode())))
    assert rows[0] == ["email", "name", "age", "sluice_row", "sluice_outcome", "sluice_message"]
    assert [int(r[3]) for r in rows[1:]] == [n for n in range(1, ROWS + 1) if n != DUPLICATE_ROW]
    assert rows[ROWS - 1] == [f"e{ROWS}@example.org", f"Person number {ROWS:06d} Smith", str(ROWS % 100), str(ROWS),
                              "created", f"e{ROWS}@example.org"]
    print(f"\n200,000 rows in {file['slices']} slices: {elapsed:.0f} s from upload to Completed "
          f"({ROWS / elapsed:,.0f} rows/s)")
