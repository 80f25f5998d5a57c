from tests.harness import Harness


def test_csv_import_end_to_end(harness: Harness) -> None:
    harness.define()
    job = harness.submit_csv("email,name,age\na@x.org,Ann,30\nb@x.org,Bob,-1\nc@x.org,Cy,\n")
    assert job["status"] == "Accepted"
    done = harness.run(job["jobId"])
    assert done["status"] == "Completed", done
    assert done["counts"] == {"total": 3, "processed": 3, "created": 2, "updated": 0, "unchanged": 0,
                              "deleted": 0, "failed": 1, "unprocessed": 0}
    assert done["errors"] == [{"row": 2, "line": 3, "field": "age", "value": "-1", "message": "must be at least 0"}]
