"""The local stack's snapshot sets (`sluice_local.persist`): a manifest names one file per emulator process, is
written only once every file it names is in place, never replaces a newer one, and files no set names go."""

from __future__ import annotations

import json
from pathlib import Path

from sluice_local.emulator import groups
from sluice_local.persist import LEGACY_SNAPSHOT, MANIFEST, commit, discard_unnamed, read_manifest, snapshot_name


def _manifest(generation: int, aws: int, dynamodb: int) -> dict:
    return {"format": 1, "generation": generation,
            "files": {"aws": {"file": snapshot_name("aws", aws), "services": ["s3", "sqs"]},
                      "dynamodb": {"file": snapshot_name("dynamodb", dynamodb), "services": ["dynamodb"]}}}


def _put(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_bytes(b"state")


def test_a_set_is_committed_only_when_every_file_it_names_is_in_place(tmp_path: Path) -> None:
    manifest = _manifest(1, 1, 1)
    _put(tmp_path, snapshot_name("aws", 1))
    assert not commit(tmp_path, manifest)  # the DynamoDB process's child has not finished: no set yet
    assert read_manifest(tmp_path) is None
    _put(tmp_path, snapshot_name("dynamodb", 1))
    assert commit(tmp_path, manifest)  # the last child to finish writes it
    assert read_manifest(tmp_path) == manifest
    assert not commit(tmp_path, manifest)  # once


def test_an_older_set_never_replaces_a_newer_one_and_unnamed_older_files_go(tmp_path: Path) -> None:
    _put(tmp_path, snapshot_name("aws", 1), snapshot_name("dynamodb", 1))
    assert commit(tmp_path, _manifest(1, 1, 1))
    # set 2: only DynamoDB changed, the aws process's file of set 1 is named again
    _put(tmp_path, snapshot_name("dynamodb", 2))
    assert commit(tmp_path, _manifest(2, 1, 2))
    assert sorted(p.name for p in tmp_path.glob("emulator-*")) == [snapshot_name("aws", 1),
                                                                  snapshot_name("dynamodb", 2)]
    # set 3 is begun (its files in flight) when a late child of an older set finishes: it writes nothing
    _put(tmp_path, snapshot_name("aws", 3))
    assert not commit(tmp_path, _manifest(1, 1, 1))
    assert read_manifest(tmp_path) == _manifest(2, 1, 2)
    assert (tmp_path / snapshot_name("aws", 3)).exists()  # newer than the set: not removed, it may complete
    _put(tmp_path, snapshot_name("dynamodb", 3))
    assert commit(tmp_path, _manifest(3, 3, 3))
    assert sorted(p.name for p in tmp_path.glob("emulator-*")) == [snapshot_name("aws", 3),
                                                                  snapshot_name("dynamodb", 3)]


def test_a_start_discards_files_of_sets_never_completed_and_reads_the_one_process_file(tmp_path: Path) -> None:
    _put(tmp_path, LEGACY_SNAPSHOT, snapshot_name("aws", 4), f"{snapshot_name('dynamodb', 4)}.tmp.123")
    legacy = read_manifest(tmp_path)
    assert legacy == {"format": 1, "generation": 0, "files": {"legacy": {"file": LEGACY_SNAPSHOT,
                                                                         "services": ["*"]}}}
    discard_unnamed(tmp_path, legacy)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LEGACY_SNAPSHOT]
    _put(tmp_path, snapshot_name("aws", 1), snapshot_name("dynamodb", 1))
    assert commit(tmp_path, _manifest(1, 1, 1))
    assert not (tmp_path / LEGACY_SNAPSHOT).exists()  # superseded by the first set
    assert json.loads((tmp_path / MANIFEST).read_text())["generation"] == 1


def test_s3_and_sqs_share_a_process_and_dynamodb_has_its_own() -> None:
    aws, dynamodb = groups(split=True)
    assert aws.owns("s3") and aws.owns("sqs") and aws.owns("events") and not aws.owns("dynamodb")
    assert dynamodb.owns("dynamodb") and not dynamodb.owns("s3") and not dynamodb.owns("iam")
    (alone,) = groups(split=False)
    assert all(alone.owns(service) for service in ("s3", "sqs", "dynamodb", "iam"))
