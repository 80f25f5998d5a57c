"""Limits with clear answers (sizes, columns, rows, request rate), uploads bound to their job, formula
neutralisation in every CSV we write, and no secret in any log line."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import requests

from sluice.intake import sources, submit
from sluice.models import limits
from sluice.store import ratelimit
from sluice.store.blobs import upload_key
from tests.harness import Harness, module_loggers_follow_the_service


def _limited(monkeypatch: pytest.MonkeyPatch, per_second: int) -> Iterator[Harness]:
    from moto import mock_aws

    with mock_aws():
        yield Harness(monkeypatch, key_rate_limit=per_second)


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield from _limited(monkeypatch, 5)


def test_each_key_gets_its_requests_per_second_then_429_with_retry_after(limited: Harness,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"ms": 1_800_000_000_000}
    monkeypatch.setattr(ratelimit, "now_ms", lambda: clock["ms"])
    busy, other = limited.key("acme"), limited.key("acme", ("imports:read",))
    statuses = [limited.call("GET", "/v1/jobs", key=busy).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = limited.call("GET", "/v1/jobs", key=busy)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert "more than 5 requests in one second" in refused.json()["error"]["message"]
    assert limited.call("GET", "/v1/jobs", key=other).status_code == 200  # counted per key
    clock["ms"] += 1000
    assert limited.call("GET", "/v1/jobs", key=busy).status_code == 200  # a new second
    assert limited.call("GET", "/v1/health", key="").status_code == 200  # no key, no count


def test_inline_bodies_are_capped_in_bytes_and_lines(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    monkeypatch.setattr(submit, "MAX_INLINE_LINES", 3)
    too_many = harness.call("POST", "/v1/jobs?itemType=contact", body=b'{"email": "a@x.org"}\n' * 4,
                            content_type="application/x-ndjson")
    assert too_many.status_code == 413
    assert too_many.json()["error"]["message"].startswith("the body has 4 lines; a request carries at most 3")
    monkeypatch.setenv("INLINE_BODY_MAX", "64")
    from sluice.store.clients import reset_clients

    reset_clients()
    too_big = harness.call("POST", "/v1/jobs", files={"file": ("a.csv", b"email\n" + b"a@x.org\n" * 20)},
                           data={"itemType": "contact"})
    assert too_big.status_code == 413 and "inline uploads take at most 64 bytes" in too_big.json()["error"]["message"]


def test_an_upload_over_the_size_limit_is_rejected_with_the_numbers(harness: Harness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    harness.define()
    monkeypatch.setattr(sources, "MAX_UPLOAD_BYTES", 100)
    job = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "big.csv"}).json()
    assert requests.put(job["uploadUrl"], data=b"email\n" + b"a@x.org\n" * 20, timeout=10).status_code == 200
    done = harness.run(job["jobId"])
    assert done["status"] == "Rejected"
    assert done["reason"] == ("the file is 166 bytes; files of at most 100 bytes are imported "
                              "(split it into several jobs)")
    assert harness.call("GET", "/v1/records/contact").json()["items"] == []


def test_presigned_uploads_are_bound_to_the_job_key_and_capped_by_s3(harness: Harness) -> None:
    harness.define()
    job = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "a.csv"}).json()
    key = upload_key("acme", job["jobId"])
    assert urlsplit(job["uploadUrl"]).path.endswith(f"/{key}")
    assert "X-Amz-Signature" in parse_qs(urlsplit(job["uploadUrl"]).query)  # SigV4, which S3 requires everywhere
    form = job["uploadForm"]
    assert form["fields"]["key"] == key and form["maxBytes"] == limits.MAX_FORM_UPLOAD_BYTES
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert ["content-length-range", 1, limits.MAX_FORM_UPLOAD_BYTES] in policy["conditions"]
    assert {"key": key} in policy["conditions"]
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("a.csv", b"email\np@x.org\n")},
                           timeout=10)
    assert posted.status_code in (200, 204), posted.text
    assert harness.run(job["jobId"])["counts"]["created"] == 1


def test_too_many_columns_reject_the_file_and_a_huge_row_is_a_row_error(harness: Harness) -> None:
    harness.define()
    wide = ",".join(["email", *(f"c{i}" for i in range(limits.MAX_COLUMNS))]) + "\na@x.org" + "," * 1000 + "\n"
    done = harness.run(harness.submit_csv(wide)["jobId"])
    assert done["status"] == "Rejected"
    assert done["reason"] == "the header has 1001 columns; files of at most 1000 columns are imported"

    huge = "h" * (limits.MAX_ROW_BYTES + 10)
    done = harness.run(harness.submit_csv(f"email,name\nok@x.org,Ok\nbig@x.org,{huge}\n")["jobId"])
    assert done["status"] == "Completed" and done["counts"]["created"] == 1 and done["counts"]["failed"] == 1
    [error] = done["errors"]
    size = len(huge) + len("big@x.org") + 7  # ["big@x.org","hhh…"]
    assert error["row"] == 2
    assert error["message"] == f"the row is {size} bytes; rows of at most {limits.MAX_ROW_BYTES} bytes are imported"
    failed = harness.result_rows(done["jobId"], "failed")
    assert failed[1][:2] == ["big@x.org", "h" * 100 + "…"]

    keys = {f"k{i}": i for i in range(limits.MAX_COLUMNS)}
    lines = [{"email": "j@x.org"}, {"email": "wide@x.org", **keys}, {"email": "l@x.org"}]
    reply = harness.call("POST", "/v1/jobs?itemType=contact", content_type="application/x-ndjson",
                         body=b"\n".join(orjson.dumps(line) for line in lines))
    done = harness.run(reply.json()["jobId"])
    assert done["counts"]["created"] == 2 and done["counts"]["failed"] == 1
    assert done["errors"][0]["message"] == "brings the file's keys beyond the 1000 columns a file may have"


def test_result_files_neutralise_formulas_but_keep_numbers(harness: Harness) -> None:
    harness.define()
    text = ("email,name,age,=cmd|' /C calc'!A0\n"
            "a@x.org,=HYPERLINK(\"http://evil\"),-5,x\n"
            "b@x.org,@SUM(1),30,y\n"
            "c@x.org,-2+3,+31,z\n")
    done = harness.run(harness.submit_csv(text)["jobId"])
    assert done["counts"] == {**done["counts"], "created": 2, "failed": 1}
    failed = harness.result_rows(done["jobId"], "failed")
    assert failed[0] == ["email", "name", "age", "'=cmd|' /C calc'!A0", "sluice_row", "sluice_outcome",
                         "sluice_message"]
    assert failed[1][:4] == ["a@x.org", "'=HYPERLINK(\"http://evil\")", "-5", "x"]
    succeeded = harness.result_rows(done["jobId"], "succeeded")
    assert [r[:3] for r in succeeded[1:]] == [["b@x.org", "'@SUM(1)", "30"], ["c@x.org", "'-2+3", "+31"]]


class _Lines(logging.Handler):
    """Every record of the functions' loggers, formatted as the Lambda log line would be."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_no_secret_reaches_any_log_line(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    module_loggers_follow_the_service(monkeypatch)
    sluice_logger = logging.getLogger("sluice")
    level = sluice_logger.level
    formatter = next(h.formatter for h in sluice_logger.handlers if h.formatter)  # Powertools' JSON formatter
    collected = _Lines(formatter)
    sluice_logger.addHandler(collected)
    sluice_logger.setLevel(logging.DEBUG)  # everything the functions would log, at their chattiest
    try:
        harness.define()
        admin = harness.key()
        created = harness.call("POST", "/v1/api-keys", key=admin,
                               json_body={"name": "ci", "permissions": ["imports:write", "exports:write"]}).json()
        new_key = created["key"]
        harness.submit_csv("email,name\ns@x.org,S\n")
        harness.call("POST", "/v1/jobs", key=new_key, files={"file": ("a.csv", io.BytesIO(b"email\nt@x.org\n"))},
                     data={"itemType": "contact"})
        upload = harness.call("POST", "/v1/jobs", json_body={"itemType": "contact", "fileName": "u.csv"}).json()
        harness.call("GET", "/v1/jobs", key=new_key)  # 403, logged with the key id only
        harness.call("GET", "/v1/jobs", key=new_key + "x")  # an unknown key
        harness.pump()
        export = harness.call("POST", "/v1/exports", key=new_key, json_body={"itemType": "contact"}).json()
        harness.pump()
        view = harness.call("GET", f"/v1/exports/{export['exportId']}").json()
        link = view["links"]["download"][0]
        followed = harness.call("GET", urlsplit(link).path, key="")
        assert followed.status_code == 302
        harness.call("DELETE", f"/v1/api-keys/{created['keyId']}", key=admin)
        secret_value = harness.clients.secrets.get_secret_value(
            SecretId=harness.clients.settings.link_secret_arn)["SecretString"]
    finally:
        sluice_logger.setLevel(level)
        sluice_logger.removeHandler(collected)
    text = "\n".join(collected.lines)
    assert len(collected.lines) >= 7 and '"level":"INFO"' in text  # the logs were on
    token = urlsplit(link).path.rsplit("/", 1)[1]
    signatures = [parse_qs(urlsplit(u).query).get("X-Amz-Signature", [""])[0]
                  for u in (upload["uploadUrl"], followed.headers["location"])]
    secrets = {"admin key": admin, "new key": new_key, "link token": token, "link secret": secret_value,
               "upload signature": signatures[0], "download signature": signatures[1],
               "form signature": upload["uploadForm"]["fields"].get("x-amz-signature", "")}
    assert all(secrets.values()), secrets
    leaked = [name for name, value in secrets.items() if value in text]
    assert leaked == []


def test_s3_keys_come_from_validated_ids_never_from_file_names(harness: Harness) -> None:
    harness.define()
    hostile = "../../results/globex/x/../../inbox/acme/contact/evil.csv"
    job = harness.call("POST", "/v1/jobs", files={"file": (hostile, io.BytesIO(b"email\nh@x.org\n"))},
                       data={"itemType": "contact"}).json()
    keys = [o["Key"] for o in harness.s3.list_objects_v2(Bucket=harness.clients.settings.bucket)["Contents"]]
    assert upload_key("acme", job["jobId"]) in keys
    assert not [k for k in keys if "evil" in k or ".." in k]
    done = harness.run(job["jobId"])
    assert done["counts"]["created"] == 1
    assert harness.call("GET", "/v1/jobs/..%2F..%2Fx").status_code == 404
    assert harness.call("PUT", "/v1/item-types/..%2Fx", json_body={"fields": {"a": {"type": "string"}}}
                        ).status_code == 400
