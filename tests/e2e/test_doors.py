"""Each seed's documented flow, end to end over real HTTP on the local stack, sent the way the seed's own clients
send it (curl command lines and scripts, Python requests); the jobs they make are normal jobs of /v1."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import openpyxl
import requests

from tests.doors import SEED_CONTACT, TRACK, curl, shell
from tests.e2e.conftest import Stack

KEY = "acme-key"


def _define(stack: Stack) -> None:
    reply = requests.put(f"{stack.api}/v1/item-types/contact", json=SEED_CONTACT, headers=stack.headers(KEY),
                         timeout=30)
    assert reply.status_code in (200, 201), reply.text


def test_000_learningbuilder_queue_batch(stack: Stack, tmp_path: Path) -> None:
    _define(stack)
    rows = [{"email": f"lb{i}@door.example", "name": f"LB {i}", "age": i} for i in range(50)] + [{"email": "bad"}]
    (tmp_path / "batch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    status, body = curl('curl -X POST "$SERVER/API/WorkflowImportQueue/CreateBatch?fileName=batch.jsonl'
                        '&importProcessId=7&creationPath=E2E_DOOR" -H "Authorization: apikey $KEY" '
                        "--data-binary @batch.jsonl", cwd=str(tmp_path), SERVER=stack.api, KEY=KEY)
    assert status == 200, body
    answer = json.loads(body)
    job_id = answer["queueBatchId"]
    assert answer == {"queueBatchId": job_id, "queueBatchDetails": f"{stack.api}/console/jobs/{job_id}"}
    job = stack.wait_job(job_id)
    assert (job["status"], job["creationPath"], job["counts"]["created"], job["counts"]["failed"]) == (
        "Completed", "IMPORT_QUEUE_API:E2E_DOOR", 50, 1)
    listed = requests.get(f"{stack.api}/v1/jobs?creationPath=IMPORT_QUEUE_API:E2E_DOOR", headers=stack.headers(),
                          timeout=30).json()
    assert [j["jobId"] for j in listed["items"]] == [job_id]


def test_001_haplo_script(stack: Stack, tmp_path: Path) -> None:
    _define(stack)
    control = {"files": {"people": {"itemType": "AI", "columns": {"Mail": "email"}}}}
    (tmp_path / "control.json").write_text(json.dumps(control))
    (tmp_path / "people.csv").write_text("Mail,name\nhaplo1@door.example,H1\nhaplo2@door.example,H2\n")
    (tmp_path / "import.sh").write_text(
        "set -e\n"
        "C=`curl -s --user haplo:$KEY -X POST -F comment=E2E -F file=@control.json "
        "$SERVER/api/haplo-data-import-batch/control`\n"
        "B=`curl -s --user haplo:$KEY -X POST --data \"comment=E2E batch&control=$C\" "
        "$SERVER/api/haplo-data-import-batch/batch`\n"
        "curl -s --user haplo:$KEY -X POST -F batch=$B -F name=people -F file=@people.csv "
        "$SERVER/api/haplo-data-import-batch/file >/dev/null\n"
        "S=`curl -s --user haplo:$KEY -X POST --data \"batch=$B\" $SERVER/api/haplo-data-import-batch/schedule`\n"
        "echo $B $S\n")
    batch, scheduled = shell("import.sh", str(tmp_path), SERVER=stack.api, KEY=KEY).split()
    assert scheduled == "SCHEDULED"
    job = stack.wait_job(batch)
    assert (job["status"], job["staged"], job["counts"]["created"]) == ("Completed", True, 2)
    wrong = subprocess.run(["curl", "-s", "--user", "haplo:nope", "-X", "POST", "--data", f"batch={batch}",
                            f"{stack.api}/api/haplo-data-import-batch/schedule"], capture_output=True, text=True,
                           timeout=30)
    assert wrong.stdout == "a valid API key is required: send 'Authorization: Bearer <key>'"


def test_002_set_attribute_values(stack: Stack) -> None:
    _define(stack)
    seed = requests.post(f"{stack.api}/v1/jobs?itemType=contact", data=b'{"email": "sav@door.example"}\n',
                         headers={**stack.headers(), "Content-Type": "application/x-ndjson"}, timeout=30).json()
    stack.wait_job(seed["jobId"])
    reply = requests.post(f"{stack.api}/API/WorkflowInstance/SetAttributeValues", headers={"Authorization":
                          f"apikey {KEY}"}, json=[{"entityTypeAbbr": "AI", "wfiId": "sav@door.example", "values": [
                              {"attrDefId": 555, "val": "Sav"}, {"attrDefId": 404, "val": "x"}]}], timeout=30)
    assert reply.json() == {"successCount": 1, "errorCount": 1, "errors": [
        {"entityTypeAbbr": "AI", "wfiId": "sav@door.example", "values": [
            {"attrDefId": 555, "val": "Sav"},
            {"attrDefId": 404, "val": "x", "error": 'Attribute Definition #404 does not exist for entity "AI"'}]}]}
    record = requests.get(f"{stack.api}/v1/records/contact/sav@door.example", headers=stack.headers(), timeout=30)
    assert record.json()["attributes"]["name"] == "Sav"


def _liquid_status(stack: Stack, job_id: str, until: str = "Completed") -> dict[str, Any]:
    deadline = time.time() + 60
    while time.time() < deadline:
        status = requests.post(f"{stack.api}/ls/api/batch/status", data={"jobId": job_id}, timeout=30,
                               headers={"Authorization": "Bearer " + KEY}).json()
        if status["status"] == until:
            return dict(status)
        time.sleep(0.2)
    raise AssertionError(f"{job_id} not {until}: {status}")


def test_003_liquid_import_status_export(stack: Stack) -> None:
    _define(stack)
    headers = {"Authorization": "Bearer " + KEY}
    data = [{"email": "liq1@door.example", "tier": "gold"}, {"email": "liq2@door.example", "tier": "silver"}]
    files = {"file": ("data.json", io.BytesIO(json.dumps(data).encode()), "application/json", {"Expires": "0"})}
    parameters = {"jobName": "Attendee Import Job", "contentType": "application/json", "itemType": "Attendee",
                  "merge": False}
    accepted = requests.post(stack.api + "/ls/api/batch/import", headers=headers, files=files, data=parameters,
                             timeout=30).json()
    assert (accepted["status"], accepted["recordsProcessed"], accepted["runTime"]) == ("Accepted", "0", "0")
    assert _liquid_status(stack, accepted["jobId"])["recordsProcessed"] == "2"
    filters = {"tier": "gold", "email": "liq1@door.example"}
    export = requests.post(stack.api + "/ls/api/batch/export", headers=headers, timeout=30, data={
        "jobName": "Gold", "itemType": "Attendee", "contentType": "text/plain", "filters": str(filters),
        "template": str(["email", "tier"]), "rowHeader": True}).json()
    done = _liquid_status(stack, export["jobId"])
    rows = list(csv.reader(io.StringIO(requests.get(done["links"][0], timeout=30).text)))
    assert rows == [["email", "tier"], ["liq1@door.example", "gold"]]


def test_004_teamtracks_import_and_poll(stack: Stack, tmp_path: Path) -> None:
    _define(stack)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (("email", "age"), ("tt1@door.example", 5), ("tt2@door.example", -5)):
        sheet.append(list(row))
    book.save(tmp_path / "people.xlsx")
    status, body = curl(f"curl --location \"$SERVER/objectimport/{TRACK}\" --header 'tenant: acme' "
                        "--header 'Ocp-Apim-Subscription-Key: sub' --header \"Authorization: Bearer $TOKEN\" "
                        "--form 'file=@\"people.xlsx\"'", cwd=str(tmp_path), SERVER=stack.api, TOKEN=KEY)
    assert status == 200, body
    job_id = json.loads(body)["jobId"]
    deadline = time.time() + 60
    while True:
        done = requests.get(f"{stack.api}/job/{job_id}", timeout=30, headers={
            "Authorization": "Bearer " + KEY, "tenant": "acme", "Ocp-Apim-Subscription-Key": "sub"}).json()
        if done["finished"] or time.time() > deadline:
            break
        time.sleep(0.2)
    assert (done["successfullyCreated"], done["failedToCreate"], done["objectsCreated"]) == (
        1, 1, ["tt1@door.example"])
    other = requests.get(f"{stack.api}/job/{job_id}", headers={"Authorization": "Bearer globex-key"}, timeout=30)
    assert (other.status_code, other.json()["statusCode"]) == (404, 404)
