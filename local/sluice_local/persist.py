"""Keeping the emulator's state across restarts (`SLUICE_DATA_DIR`, default `.sluice-data/`).

moto keeps every service's state in plain Python objects (`BackendDict`s: account -> region -> backend). The
stack snapshots all of them into one pickle, restored before provisioning on the next start:

* **A consistent cut.** Every emulator request runs under the shared side of a readers-writer lock; a snapshot
  takes the exclusive side, so it sees each request wholly or not at all, across S3, SQS and DynamoDB together
  (a chunk's records are never saved without the counters that go with them, nor a message's deletion without
  the writes that preceded it).
* **Cheap pauses.** Under the exclusive lock the stack only `fork()`s (milliseconds); the child pickles its
  copy-on-write image of the state, writes `emulator.pickle.tmp`, fsyncs and renames it over `emulator.pickle`
  (atomic), while the parent goes on serving. A crash at any moment leaves the previous snapshot whole.
* **Cadence.** Every `SLUICE_SNAPSHOT_SECONDS` (1 s) when a mutating request arrived since the last one, never two
  at once, and at least twice the last one's duration apart (so a big state costs at most half a core); a last
  one on a clean stop, taken under the exclusive lock, which the stack then keeps until it exits (nothing changes
  after that cut), by a child that may outlive the stack (it holds the directory's lock; the next start waits
  for it). A SIGKILL loses at most the requests since the last snapshot began, and what it loses
  is a suffix of history: the state after a restart is the state of one instant, as consistent as at that instant.
* **Restore.** Messages that were in flight (received, not deleted) become visible again at once: the functions
  holding them died with the stack, and waiting out a 960 s visibility timeout would only delay the job.
"""

from __future__ import annotations

import copyreg
import gc
import io
import logging
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SNAPSHOT = "emulator.pickle"
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


def restore(directory: Path) -> dict[str, int] | None:
    """Loads the snapshot into moto's backends (before provisioning); None when there is none."""
    hold_directory(directory)
    path = directory / SNAPSHOT
    for stale in directory.glob(f"{SNAPSHOT}.tmp.*"):  # a snapshot cut short by a kill: the last whole one stands
        stale.unlink(missing_ok=True)
    if not path.exists():
        return None
    gc.disable()
    try:
        loaded = pickle.loads(path.read_bytes())
    finally:
        gc.enable()
    if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
        raise SystemExit(f"{path} was written by another version of the local stack; `make reset` empties it")
    state = loaded["state"]
    from moto.backends import get_backend

    counts = {"services": 0, "messagesReopened": _reopen_in_flight(state)}
    for service, accounts in state.items():
        backends = get_backend(service)
        for account, regions in accounts.items():
            regional = backends[account]  # creates the account's (empty) dict
            for region, backend in regions.items():
                dict.__setitem__(regional, region, backend)
        counts["services"] += 1
    return counts


class Snapshotter(threading.Thread):
    """Wraps the emulator's WSGI app (the lock, the dirty flag) and writes snapshots in forked children."""

    def __init__(self, directory: Path, interval: float = 1.0) -> None:
        super().__init__(name="snapshotter", daemon=True)
        self.directory = directory
        self.path = directory / SNAPSHOT
        self.interval = interval
        self.lock = RWLock()
        self.dirty = threading.Event()
        self.stopping = threading.Event()
        self.child: int | None = None
        self.child_started = 0.0
        self.last_duration = 0.0
        self.last_pause = 0.0
        self.max_pause = 0.0
        self.max_duration = 0.0
        self.snapshots = 0
        self.failures = 0

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

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self._reap(block=False)
            if self.child is None and self.dirty.is_set() and \
                    time.monotonic() - self.child_started >= max(self.interval, 2 * self.last_duration):
                self._fork()

    def _reap(self, block: bool) -> None:
        if self.child is None:
            return
        pid, status = os.waitpid(self.child, 0 if block else os.WNOHANG)
        if pid == 0:
            return
        self.child = None
        self.last_duration = time.monotonic() - self.child_started
        if os.waitstatus_to_exitcode(status) == 0:
            self.max_duration = max(self.max_duration, self.last_duration)
            self.snapshots += 1
        else:
            self.failures += 1
            self.dirty.set()  # try again next time

    def _fork(self) -> None:
        self.lock.acquire_write()
        try:
            self._fork_locked()
        finally:
            self.lock.release_write()

    def _fork_locked(self, wait_for: int | None = None) -> None:
        started = time.monotonic()
        self.dirty.clear()
        pid = os.fork()
        if pid == 0:  # the child: a frozen copy of the state, one thread, nothing shared but files
            self._child(wait_for)
        self.child, self.child_started = pid, started
        self.last_pause = time.monotonic() - started
        self.max_pause = max(self.max_pause, self.last_pause)

    def _child(self, wait_for: int | None = None) -> None:
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            gc.disable()
            _unlocked_s3_reads()
            data = dump_state(_state())
            _outlive(wait_for)  # an older snapshot child, killed: its file must never land after this one
            write_atomically(self.path, data)
            code = 0
        except BaseException:
            os.write(2, f"snapshot failed:\n{traceback.format_exc()}".encode())
        finally:
            os._exit(code)

    def snapshot_now(self) -> float:
        """A snapshot in this process, the stack paused meanwhile; returns the seconds it took."""
        started = time.monotonic()
        self.lock.acquire_write()
        try:
            self.dirty.clear()
            gc.disable()
            try:
                data = dump_state(_state())
            finally:
                gc.enable()
        finally:
            self.lock.release_write()
        write_atomically(self.path, data)
        self.snapshots += 1
        return time.monotonic() - started

    def summary(self) -> str:
        size = self.path.stat().st_size / 1e6 if self.path.exists() else 0.0
        return (f"snapshots: {self.snapshots} written ({self.failures} cut short), {size:.1f} MB, longest "
                f"{self.max_duration:.2f} s in a child, longest pause of the emulator {self.max_pause * 1000:.0f} ms")

    def close(self) -> None:
        """The last snapshot, of the state as it is now, and no change after it: takes the exclusive side of the lock
        (waiting only for the emulator requests in flight, milliseconds each) and never gives it back, so every later
        request waits until the process exits and nothing acknowledged is missing from the file. Written by a child
        that may outlive this process (the stack stops at once whatever the state's size): it holds the
        directory's lock until its file is in place, and the next start waits for that lock before restoring.
        Does not wait for the cadence thread: whatever it does now is superseded by this."""
        self.stopping.set()
        self.lock.acquire_write()
        self._reap(block=False)
        if not self.dirty.is_set():
            return
        outdated = self.child
        if outdated is not None:  # outdated before it is written: one fresh one instead
            os.kill(outdated, signal.SIGKILL)
        self._fork_locked(wait_for=outdated)
        print(f"last snapshot: being written by pid {self.child} (the next start waits for it)", flush=True)


def _outlive(pid: int | None, timeout: float = 30) -> None:
    """In a snapshot child: wait until a sibling (killed by the parent) is gone, reaped by whoever adopted it."""
    if pid is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return  # the number was taken by another user's process: ours is gone
        time.sleep(0.05)
