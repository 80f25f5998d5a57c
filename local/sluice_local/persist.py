"""Keeping the emulator's state across restarts (`SLUICE_DATA_DIR`, default `.sluice-data/`).

moto keeps every service's state in plain Python objects (`BackendDict`s: account -> region -> backend). The
emulator runs as more than one process (`sluice_local.emulator`: DynamoDB in one, S3, SQS and the rest in
another); each snapshots its own backends into a file of its own, and a manifest (`snapshot.json`) names the set of
files that together make one snapshot. The next start restores that set before provisioning:

* **One consistent cut across processes.** Every emulator request runs under the shared side of its process's
  readers-writer lock. A snapshot is a barrier: the stack (`SnapshotCoordinator`) takes the exclusive side in every
  emulator process, one after the other, and only when all of them hold it does any fork; then each releases. At
  that instant no process changes anything, so the files are the state of one instant across S3, SQS and DynamoDB
  (a chunk's records are never saved without the counters that go with them, nor a message's deletion without the
  writes that preceded it, whichever processes hold them).
* **Cheap pauses.** Under the exclusive locks the processes only `fork()` (milliseconds); each child pickles its
  copy-on-write image of the state into `emulator-<group>-<generation>.pickle` (written aside, fsynced, renamed),
  while its parent goes on serving. A process with nothing changed since its last file writes none: the manifest
  names its last file again.
* **The set is atomic.** The child that finishes last (each checks, under `snapshot.lock`) writes the manifest of
  its generation (aside, renamed over the old one, never over a newer one) and removes the files no manifest names
  any more. A crash at any moment leaves the previous manifest and every file it names whole.
* **Cadence.** Every `SLUICE_SNAPSHOT_SECONDS` (1 s) when a mutating request arrived since the last one, never two
  at once, and at least twice the last one's duration apart (so a big state costs at most half a core); a last
  one on a clean stop, taken under the exclusive locks, which the emulator processes then keep until they exit
  (nothing changes after that cut), by children that may outlive the stack (they hold the directory's lock; the
  next start waits for it). A SIGKILL loses at most the requests since the last snapshot began, and what it loses
  is a suffix of history: the state after a restart is the state of one instant, as consistent as at that instant.
* **Restore.** Messages that were in flight (received, not deleted) become visible again at once: the functions
  holding them died with the stack, and waiting out a 960 s visibility timeout would only delay the job.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import io
import json
import logging
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

MANIFEST = "snapshot.json"
LEGACY_SNAPSHOT = "emulator.pickle"  # one file for every service, before the emulator had processes
FORMAT = 1
log = logging.getLogger("sluice_local.persist")

# Operations that change nothing a restart needs (ReceiveMessage only moves visibility, which a restore resets).
_READ_ONLY_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "ReceiveMessage", "Head")


class RWLock:
    """Many readers (emulator requests) or one writer (a snapshot); a waiting writer holds off new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def acquire_read(self) -> None:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()


def mutates(environ: dict[str, Any]) -> bool:
    """Whether an emulator request may change state (reads and receives do not need a snapshot)."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return not target.rsplit(".", 1)[-1].startswith(_READ_ONLY_PREFIXES)
    return not environ.get("PATH_INFO", "").startswith("/moto-api/data")


def _backend_dicts() -> list[Any]:
    from moto.core.base_backend import BackendDict

    return list(BackendDict._instances)  # type: ignore[misc]


def _state() -> dict[str, dict[str, dict[str, Any]]]:
    """{service: {account: {region: backend}}} for every service the emulator has touched."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for backends in _backend_dicts():
        for account, regional in dict.items(backends):
            for region, backend in dict.items(regional):
                state.setdefault(backends.service_name, {}).setdefault(account, {})[region] = backend
    return state


def _dispatch_table() -> dict[Any, Any]:
    """Locks and conditions are made afresh; moto's size-checked item dict is rebuilt without its O(n²) checks."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    table: dict[Any, Any] = dict(copyreg.dispatch_table)
    table[type(threading.Lock())] = lambda _: (threading.Lock, ())
    table[type(threading.RLock())] = lambda _: (threading.RLock, ())
    table[threading.Condition] = lambda _: (threading.Condition, ())
    table[threading.Event] = lambda _: (threading.Event, ())
    table[LimitedSizeDict] = lambda d: (LimitedSizeDict, (dict(d),))
    return table


def dump_state(state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()
    pickler.dump({"format": FORMAT, "state": state})
    return buffer.getvalue()


def _unlocked_s3_reads() -> None:
    """In the forked child: read S3 objects with pread, never moving the file offset the parent shares."""
    from moto.s3.models import FakeKey

    original = FakeKey.value

    def read(self: Any) -> bytes:
        spooled = self._value_buffer
        inner = getattr(spooled, "_file", None)
        if isinstance(inner, io.BytesIO):
            return inner.getvalue()
        fileno = spooled.fileno()
        return os.pread(fileno, os.fstat(fileno).st_size, 0)

    FakeKey.value = property(read, original.fset)  # type: ignore[method-assign, assignment, attr-defined]


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _reopen_in_flight(state: dict[str, Any]) -> int:
    """Every received-but-not-deleted message visible now; old receipt handles forgotten (their holders died)."""
    reopened = 0
    for regional in state.get("sqs", {}).values():
        for backend in regional.values():
            for queue in backend.queues.values():
                for message in queue._messages:
                    if message.visible_at:
                        reopened += not message.visible
                        message.visible_at = 0.0
                queue._pending_messages.clear()
                queue.deleted_messages.clear()
    return reopened


_HELD: list[int] = []  # the data directory's lock, held while this process (or a snapshot child of it) lives


def hold_directory(directory: Path, timeout: float = 120) -> None:
    """One stack per data directory; waits for a stopped stack's last snapshot child to finish its file."""
    import fcntl

    descriptor = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{directory} is in use by another local stack (its lock file is held)") from None
            if not waited:
                print(f"waiting for {directory}: another stack or its last snapshot holds it", flush=True)
                waited = True
            time.sleep(0.1)
    _HELD.append(descriptor)


def held_directory() -> tuple[int, ...]:
    """The descriptor of the directory's lock, for the emulator processes (their snapshot children keep it)."""
    return tuple(_HELD)




# The snapshot set: the manifest and the files it names

Entry = dict[str, Any]  # {"file": name in the data directory, "services": what it holds (["*"]: unknown, filter)}
Manifest = dict[str, Any]  # {"format": 1, "generation": N, "files": {group: Entry}}


def snapshot_name(group: str, generation: int) -> str:
    return f"emulator-{group}-{generation:08d}.pickle"


def _generation_of(name: str) -> int | None:
    stem = name.removesuffix(".pickle")
    if not name.startswith("emulator-") or stem == name:
        return None
    try:
        return int(stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return None


def read_manifest(directory: Path) -> Manifest | None:
    """The last complete snapshot set; a data directory of the one-process emulator reads as a set of one file."""
    path = directory / MANIFEST
    if path.exists():
        manifest: Manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT:
            raise SystemExit(f"{path} was written by another version of the local stack; `make reset` empties it")
        return manifest
    if (directory / LEGACY_SNAPSHOT).exists():
        return {"format": FORMAT, "generation": 0, "files": {"legacy": {"file": LEGACY_SNAPSHOT, "services": ["*"]}}}
    return None


def discard_unnamed(directory: Path, manifest: Manifest | None) -> None:
    """At a start, holding the directory's lock (no snapshot child runs): files of sets never completed go."""
    named = {entry["file"] for entry in (manifest or {}).get("files", {}).values()}
    for path in [*directory.glob("emulator-*.pickle*"), *directory.glob(f"{MANIFEST}.tmp.*"),
                 *directory.glob(f"{LEGACY_SNAPSHOT}.tmp.*")]:
        if path.name not in named:
            path.unlink(missing_ok=True)


def commit(directory: Path, manifest: Manifest) -> bool:
    """In a snapshot child, its own file in place: once every file the manifest names is there (this child finished
    last), the manifest replaces an older one, and files no manifest names any more go. -> whether it was written."""
    import fcntl

    with (directory / "snapshot.lock").open("a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # children finishing together: one at a time; released by the close
        if not all((directory / entry["file"]).exists() for entry in manifest["files"].values()):
            return False
        current = read_manifest(directory)
        if current is not None and current["generation"] >= manifest["generation"]:
            return False  # a newer set is in place already
        write_atomically(directory / MANIFEST, json.dumps(manifest, sort_keys=True).encode())
        named = {entry["file"] for entry in manifest["files"].values()}
        for path in directory.glob("emulator-*.pickle"):
            generation = _generation_of(path.name)
            if path.name not in named and generation is not None and generation < manifest["generation"]:
                path.unlink(missing_ok=True)
        (directory / LEGACY_SNAPSHOT).unlink(missing_ok=True)
        return True


def restore(directory: Path, manifest: Manifest, owns: Callable[[str], bool]) -> dict[str, int]:
    """In an emulator process, before it serves: the backends of the services it owns from the snapshot set."""
    from moto.backends import get_backend

    counts = {"services": 0, "messagesReopened": 0}
    for entry in manifest["files"].values():
        if entry["services"] != ["*"] and not any(owns(service) for service in entry["services"]):
            continue
        gc.disable()
        try:
            loaded = pickle.loads((directory / entry["file"]).read_bytes())
        finally:
            gc.enable()
        if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
            raise SystemExit(f"{entry['file']} was written by another version of the local stack; "
                             "`make reset` empties it")
        state = {service: accounts for service, accounts in loaded["state"].items() if owns(service)}
        counts["messagesReopened"] += _reopen_in_flight(state)
        for service, accounts in state.items():
            backends = get_backend(service)
            for account, regions in accounts.items():
                regional = backends[account]  # creates the account's (empty) dict
                for region, backend in regions.items():
                    dict.__setitem__(regional, region, backend)
            counts["services"] += 1
    return counts


class ProcessSnapshots:
    """One emulator process's side of the snapshots: the lock its requests run under, whether anything changed since
    its last file, and the forked children that write its files. Driven by the stack's `SnapshotCoordinator`."""

    def __init__(self, directory: Path, group: str, owns: Callable[[str], bool] = lambda service: True) -> None:
        """`owns`: the services this process's files hold (moto touches some, such as IAM, in every process)."""
        self.directory = directory
        self.group = group
        self.owns = owns
        self.lock = RWLock()
        self.dirty = threading.Event()
        self.child: int | None = None
        self.child_started = 0.0
        self.pending: Entry | None = None
        self.last: Entry | None = None  # the last file a child of this process wrote whole
        self.last_duration = 0.0
        self.max_duration = 0.0
        self.written = 0
        self.failures = 0
        self.closed = False

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def persisted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            self.lock.acquire_read()
            try:
                body = list(app(environ, start_response))  # the whole request inside the lock
                if mutates(environ):
                    self.dirty.set()
                return body
            finally:
                self.lock.release_read()

        return persisted

    def restored(self, manifest: Manifest | None) -> None:
        """After a restore: the state is that of the set's file for this group, if there is one holding only this
        group's services (else the first snapshot writes one: a set written by another split of the services)."""
        entry = (manifest or {}).get("files", {}).get(self.group)
        if entry is not None and entry["services"] != ["*"] and all(map(self.owns, entry["services"])):
            self.last = entry

    def _reap(self) -> None:
        if self.child is None:
            return
        pid, status = os.waitpid(self.child, os.WNOHANG)
        if pid == 0:
            return
        self.child = None
        self.last_duration = time.monotonic() - self.child_started
        if os.waitstatus_to_exitcode(status) == 0:
            self.max_duration = max(self.max_duration, self.last_duration)
            self.written += 1
            self.last = self.pending
        else:
            self.failures += 1
            self.dirty.set()  # written again at the next snapshot

    def status(self) -> dict[str, Any]:
        self._reap()
        return {"dirty": self.dirty.is_set(), "busy": self.child is not None, "lastDuration": self.last_duration}

    def hold(self) -> dict[str, Any]:
        """The barrier's first half: the exclusive side of the lock (this process answers nothing until `fork` or
        `release`). -> whether it changed since its last file, and what it holds now."""
        self.lock.acquire_write()
        self._reap()
        return {"dirty": self.dirty.is_set() or self.last is None, "busy": self.child is not None, "last": self.last,
                "services": sorted(self._state())}

    def _state(self) -> dict[str, Any]:
        return {service: accounts for service, accounts in _state().items() if self.owns(service)}

    def release(self) -> None:
        if not self.closed:
            self.lock.release_write()

    def fork(self, manifest: Manifest, final: bool = False) -> int:
        """The barrier's second half, the lock held: a child writes this process's file of the set; then the lock
        goes back, unless `final` (a stop: nothing changes after the last cut, until the process exits)."""
        if self.child is not None:  # outdated before it is written (a stop): a fresh one instead
            os.kill(self.child, signal.SIGKILL)
            self.child = None
        self.dirty.clear()
        self.pending = manifest["files"][self.group]
        self.child_started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: a frozen copy of the state, one thread, nothing shared but files
            self._child(manifest)
        self.child = pid
        if final:
            self.closed = True
        else:
            self.lock.release_write()
        return pid

    def _child(self, manifest: Manifest) -> None:
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            gc.disable()
            _unlocked_s3_reads()
            data = dump_state(self._state())
            write_atomically(self.directory / manifest["files"][self.group]["file"], data)
            commit(self.directory, manifest)
            code = 0
        except BaseException:
            os.write(2, f"snapshot failed:\n{traceback.format_exc()}".encode())
        finally:
            os._exit(code)

    def close(self) -> None:
        """A stop: the exclusive side of the lock, kept until the process exits."""
        if not self.closed:
            self.lock.acquire_write()
            self.closed = True

    def summary(self) -> dict[str, Any]:
        return {"written": self.written, "failures": self.failures, "maxDuration": self.max_duration}


class Emulator(Protocol):
    """What the coordinator needs of an emulator process: its group's name and a command round trip."""

    group: str

    def call(self, command: str, **arguments: Any) -> dict[str, Any]: ...


class SnapshotCoordinator(threading.Thread):
    """In the stack's process: the cadence of snapshots and the barrier across the emulator processes."""

    def __init__(self, directory: Path, emulators: list[Emulator], interval: float = 1.0,
                 generation: int = 0) -> None:
        super().__init__(name="snapshots", daemon=True)
        self.directory = directory
        self.emulators = emulators
        self.interval = interval
        self.generation = generation
        self.stopping = threading.Event()
        self.turn = threading.Lock()  # one barrier at a time (the cadence's or the stop's)
        self.started_at = 0.0
        self.snapshots = 0
        self.last_pause = 0.0
        self.max_pause = 0.0

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            with contextlib.suppress(Exception):  # an emulator process gone (a stop under way): nothing to save
                self.tick()

    def tick(self) -> bool:
        """A snapshot if something changed and the last one is done and not too recent. -> whether one began."""
        statuses = [emulator.call("status") for emulator in self.emulators]
        if any(status["busy"] for status in statuses) or not any(status["dirty"] for status in statuses):
            return False
        spacing = max(self.interval, 2 * max(status["lastDuration"] for status in statuses))
        if time.monotonic() - self.started_at < spacing:
            return False
        return self.barrier(final=False)

    def barrier(self, final: bool) -> bool:
        """Every process's lock held at once, then a fork in those that changed. -> whether a snapshot began."""
        with self.turn:
            if self.stopping.is_set() and not final:
                return False
            started = time.monotonic()
            held: list[dict[str, Any]] = []
            try:
                for emulator in self.emulators:  # the one whose requests may be long (uploads) first
                    held.append(emulator.call("hold"))
            except Exception:
                for emulator in self.emulators[:len(held)]:  # never leave a process paused
                    with contextlib.suppress(Exception):
                        emulator.call("release")
                raise
            fresh = [state["dirty"] or (final and state["busy"]) for state in held]
            if not any(fresh):
                if not final:
                    for emulator in self.emulators:
                        emulator.call("release")
                return False
            self.generation += 1
            files = {emulator.group: {"file": snapshot_name(emulator.group, self.generation),
                                      "services": state["services"]} if new else state["last"]
                     for emulator, state, new in zip(self.emulators, held, fresh, strict=True)}
            manifest = {"format": FORMAT, "generation": self.generation, "files": files}
            for emulator, new in zip(self.emulators, fresh, strict=True):
                if new:
                    emulator.call("fork", manifest=manifest, final=final)
                elif not final:
                    emulator.call("release")
            self.started_at = started
            self.last_pause = time.monotonic() - started
            self.max_pause = max(self.max_pause, self.last_pause)
            self.snapshots += 1
            return True

    def close(self) -> bool:
        """The last snapshot, of the state as it is now, and no change after it: every emulator process keeps its
        exclusive lock until it exits, so nothing acknowledged is missing from the set. Its children may outlive the
        stack (they hold the directory's lock until their files and the manifest are in place; the next start waits
        for that lock). Does not wait for the cadence thread. -> whether a last snapshot is being written."""
        self.stopping.set()
        return self.barrier(final=True)

    def summary(self) -> str:
        manifest = read_manifest(self.directory)
        files = (manifest or {}).get("files", {}).values()
        size = sum((self.directory / entry["file"]).stat().st_size for entry in files
                   if (self.directory / entry["file"]).exists()) / 1e6
        return (f"snapshots: {self.snapshots} begun, the last complete set {size:.1f} MB in {len(files)} files; "
                f"longest pause of the emulator {self.max_pause * 1000:.0f} ms")
