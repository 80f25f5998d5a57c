"""Drop folder, scheduled imports, and each sweeper rule forced from its stuck state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluice.models.clock import now_ms
from sluice.pipeline import worker as processing
from sluice.pipeline.sweeper import INBOX_GRACE_MS, MAX_REDRIVES, sweep
from sluice.store.jobs import JobStore
from sluice.store.records import RecordStore
from sluice_local.runtime import scheduled_event, sqs_event
from tests.harness import Harness, crash_once


def _drop(h: Harness, key: str, data: bytes) -> None:
    h.s3.put_object(Bucket=h.clients.settings.bucket, Key=key, Body=data)


def _jobs(h: Harness, tenant: str = "acme", query: str = "") -> list[dict[str, Any]]:
    return list(h.call("GET", f"/v1/jobs?limit=100{query}", tenant=tenant).json()["items"])


def _inbox(h: Harness) -> list[str]:
    listed = h.s3.list_objects_v2(Bucket=h.clients.settings.bucket, Prefix="inbox/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_a_dropped_file_becomes_a_job_with_its_options(harness: Harness) -> None:
    harness.define()
    harness.key("acme")
    _drop(harness, "inbox/acme/contact/crm.csv.options.json", json.dumps({"merge": True, "jobName": "CRM"}).encode())
    _drop(harness, "inbox/acme/contact/", b"")  # a folder marker
    _drop(harness, "inbox/acme/contact/crm.csv", b"email,name\nd1@x.org,D1\nd2@x.org,D2\n")
    harness.pump()
    jobs = _jobs(harness)
    assert len(jobs) == 1
    job = jobs[0]
    assert (job["creationPath"], job["jobName"], job["merge"], job["status"]) == ("S3_DROP", "CRM", True, "Completed")
    assert job["counts"]["created"] == 2
    assert _inbox(harness) == ["inbox/acme/contact/"]  # the file and its sidecar were moved out
    assert [j["jobId"] for j in _jobs(harness, query="&creationPath=S3_DROP")] == [job["jobId"]]


def test_the_same_drop_event_twice_makes_one_job(harness: Harness) -> None:
    harness.define()
    harness.key("acme")
    _drop(harness, "inbox/acme/contact/twice.csv", b"email\nt@x.org\n")
    messages = []
    while True:  # take the event off the queue, to deliver it twice by hand
        batch = harness.receive("IngestQueue")
        if not batch:
            break
        messages += [m for m in batch if "twice.csv" in m["Body"]]
    assert len(messages) == 1
    event = sqs_event(messages, "arn")
    assert harness.invoke("IngestFunction", event) == {"batchItemFailures": []}
    assert harness.invoke("IngestFunction", event) == {"batchItemFailures": []}
    harness.pump()
    jobs = _jobs(harness)
    assert len(jobs) == 1 and jobs[0]["status"] == "Completed" and jobs[0]["counts"]["created"] == 1


def test_drops_with_unknown_item_type_tenant_or_bad_options(harness: Harness) -> None:
    harness.define()
    harness.key("acme")
    _drop(harness, "inbox/acme/ghost/a.csv", b"x\n1\n")
    _drop(harness, "inbox/nobody/contact/b.csv", b"email\nz@x.org\n")
    _drop(harness, "inbox/acme/contact/c.csv.options.json", b'{"colour": "red"}')
    _drop(harness, "inbox/acme/contact/c.csv", b"email\nz@x.org\n")
    harness.pump()
    reasons = sorted(j["reason"] for j in _jobs(harness))
    assert reasons == [
        "the options file names unknown options: colour; known: unknownColumns, maxFailedRows, maxFailedPercent, "
        "dateFormat, jobName, merge, mode, notificationEmail, contentType, sheet, headerRow, delimiter, encoding, "
        "columns, mapping, operation, revertible, dedupe",
        "unknown item type 'ghost': create it with PUT /v1/item-types/ghost, then drop the file again",
    ]
    assert all(j["status"] == "Rejected" for j in _jobs(harness))
    assert _inbox(harness) == []
    moved = harness.s3.list_objects_v2(Bucket=harness.clients.settings.bucket, Prefix="rejected/")["Contents"]
    assert [o["Key"] for o in moved] == ["rejected/inbox/nobody/contact/b.csv"]


def test_scheduled_import_takes_the_newest_object_once(harness: Harness) -> None:
    harness.define()
    harness.key("acme")
    bucket = harness.clients.settings.bucket
    harness.s3.put_object(Bucket=bucket, Key="exports/contacts/monday.csv", Body=b"email\nmon@x.org\n")
    harness.s3.put_object(Bucket=bucket, Key="exports/contacts/tuesday.csv", Body=b"email\ntue@x.org\nwed@x.org\n")
    schedule = {"tenant": "acme", "itemType": "contact", "source": f"s3://{bucket}/exports/contacts/",
                "rule": "nightly"}
    first = harness.invoke("ScheduledImportFunction", schedule)
    assert first["outcome"] == "started" and first["objectKey"] == "exports/contacts/tuesday.csv"
    assert harness.invoke("ScheduledImportFunction", schedule)["outcome"] == "already-imported"
    done = harness.run(first["jobId"])
    assert (done["creationPath"], done["counts"]["created"]) == ("SCHEDULE:nightly", 2)
    bad = harness.invoke("ScheduledImportFunction", {"tenant": "acme"})
    assert bad["outcome"] == "invalid-input"
    empty = harness.invoke("ScheduledImportFunction", {**schedule, "source": f"s3://{bucket}/nothing/"})
    assert empty == {"outcome": "nothing-to-import", "source": f"s3://{bucket}/nothing/"}


def test_the_template_example_schedule_is_disabled_and_well_formed() -> None:
    from sluice_local.template import Template

    schedules = {s.name: s for s in Template().schedules()}
    example = schedules["ExampleNightlyImport"]
    assert example.enabled is False and set(scheduled_event(example)) == {"tenant", "itemType", "source", "rule"}
    assert schedules["EveryFiveMinutes"].enabled and schedules["EveryFiveMinutes"].interval_seconds() == 300


# --- the sweeper, rule by rule ------------------------------------------------------------------


def test_sweeper_starts_drops_whose_event_was_missed(harness: Harness) -> None:
    harness.define()
    harness.key("acme")
    _drop(harness, "inbox/acme/contact/missed.csv", b"email\nm@x.org\n")
    assert harness.discard("IngestQueue") == 2  # the S3 test event, and the drop's event: lost
    assert sweep(harness.clients) == {}  # too young: its event may still arrive
    report = sweep(harness.clients, now=now_ms() + INBOX_GRACE_MS + 1000)
    assert report == {"missed-drops-started": 1}
    harness.pump()
    assert [j["status"] for j in _jobs(harness)] == ["Completed"]


def test_sweeper_redrives_a_job_whose_chunk_was_lost(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv("email\n" + "".join(f"r{i}@x.org\n" for i in range(9)))  # 3 chunks
    harness.drain("IngestQueue")
    lost = harness.receive("ChunkQueue", 1)
    harness.sqs.delete_message(QueueUrl=harness.queue_url("ChunkQueue"), ReceiptHandle=lost[0]["ReceiptHandle"])
    harness.retry_at_once()
    harness.pump()
    stuck = harness.job(job["jobId"])
    assert stuck["status"] == "Processing" and stuck["counts"]["processed"] == 6
    later = now_ms() + harness.clients.settings.stuck_minutes * 60_000 + 1000
    assert sweep(harness.clients, now=later) == {"jobs-redriven": 1}
    harness.pump()
    done = harness.job(job["jobId"])
    assert done["status"] == "Completed"
    assert done["counts"] == {"total": 9, "processed": 9, "created": 9, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 0, "unprocessed": 0}


def test_sweeper_fails_a_job_that_stays_stuck(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    job = harness.submit_csv("email\na@x.org\n")
    harness.drain("IngestQueue")
    assert harness.discard("ChunkQueue") == 1  # every chunk is lost, every time
    minute = 60_000
    now = now_ms()
    for attempt in range(MAX_REDRIVES):
        now += (harness.clients.settings.stuck_minutes + 1) * minute
        assert sweep(harness.clients, now=now) == {"jobs-redriven": 1}, attempt
        harness.drain("IngestQueue")
        assert harness.discard("ChunkQueue") == 1
    now += (harness.clients.settings.stuck_minutes + 1) * minute
    assert sweep(harness.clients, now=now) == {"jobs-failed-stuck": 1}
    failed = harness.job(job["jobId"])
    assert failed["status"] == "Failed"
    assert failed["reason"] == (f"no progress for {harness.clients.settings.stuck_minutes} minutes after "
                                f"{MAX_REDRIVES} re-drives; 0 rows were processed of 1")


def test_sweeper_finalises_a_job_whose_finalisation_never_ran(harness: Harness,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    monkeypatch.setattr(processing, "settle", lambda clients, job: job)  # the last chunk never finalises
    job = harness.submit_csv("email\na@x.org\n")
    harness.pump()
    assert harness.job(job["jobId"])["status"] == "Processing"
    monkeypatch.undo()
    assert sweep(harness.clients) == {"jobs-finalised": 1}
    assert harness.job(job["jobId"])["status"] == "Completed"
    assert sweep(harness.clients) == {}  # finished jobs leave the sweeper's worklist


def test_sweeper_cancels_open_jobs_past_their_time(harness: Harness) -> None:
    harness.define()
    upload = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "never.csv"}).json()
    control = harness.call("POST", "/v1/controls", json_body={"files": {"a.csv": {"itemType": "contact"}}}).json()
    staged = harness.call("POST", "/v1/jobs", json_body={"control": control["digest"]}).json()
    assert sweep(harness.clients) == {}
    much_later = now_ms() + (harness.clients.settings.open_job_hours + 2) * 3_600_000
    assert sweep(harness.clients, now=much_later) == {"open-jobs-canceled": 1, "uploads-never-arrived": 1}
    assert harness.job(staged["jobId"])["status"] == "Canceled"
    never = harness.job(upload["jobId"])
    assert never["status"] == "Canceled" and "no upload arrived" in never["reason"]


def test_sweeper_fails_jobs_whose_chunks_went_to_the_dead_letter_queue(harness: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    harness.retry_at_once()
    state = crash_once(monkeypatch, RecordStore, "apply", times=1000, when=lambda *a, **k: len(a[5]) == 3)
    job = harness.submit_csv("email\n" + "".join(f"d{i}@x.org\n" for i in range(5)))  # chunks of 3 + 2 rows
    for _ in range(12):
        harness.pump()
    assert state["crashes"] == 5 and harness.dead_letters("ChunkDeadLetterQueue") == 1
    assert sweep(harness.clients) == {"dead-chunks": 1, "dead-rows": 3}
    failed = harness.job(job["jobId"])
    assert failed["status"] == "Failed"
    assert failed["reason"] == ("3 rows could not be processed: their chunks failed repeatedly and went to the "
                                "dead-letter queue (they are in the unprocessed result file); 2 rows were processed")
    assert failed["counts"] == {"total": 5, "processed": 2, "created": 2, "updated": 0, "unchanged": 0,
                                "deleted": 0, "failed": 0, "unprocessed": 3}
    unprocessed = harness.result_rows(job["jobId"], "unprocessed")
    assert [r[0] for r in unprocessed[1:]] == ["d0@x.org", "d1@x.org", "d2@x.org"]
    assert harness.dead_letters("ChunkDeadLetterQueue") == 0


def test_finished_jobs_carry_an_expiry(harness: Harness) -> None:
    harness.define()
    job = harness.run(harness.submit_csv("email\na@x.org\n")["jobId"])
    stored = JobStore(harness.clients).get("acme", job["jobId"])
    assert stored is not None and stored.finishMs is not None
    retention = harness.clients.settings.retention_days * 86_400
    assert abs(stored.expiresAt - (stored.finishMs // 1000 + retention)) <= 1
    item = harness.dynamodb.get_item(TableName=harness.clients.settings.jobs_table, Key={
        "pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{job['jobId']}"}})["Item"]
    assert int(item["expiresAt"]["N"]) == stored.expiresAt
    assert "gsi1pk" not in item  # no longer listed among the unfinished jobs
