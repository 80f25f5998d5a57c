"""Where moto's emulation costs what AWS does not, a cheaper equivalent.

moto's TransactWriteItems deep-copies every table a transaction touches before it writes (to roll back on a
cancellation): a chunk commit into a Jobs table holding a large job's ledger would cost O(table) and the local
stack would slow down as its tables grow. Here only the items the transaction touches are kept and put back
on failure; what the transaction does is moto's own code."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_installed = False


class _TablesNotCopied:
    """Stands in for the `copy` module inside moto's DynamoDB backend while a transaction runs."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, self._table_type) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def install() -> None:
    global _installed
    if _installed:
        return
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items
    shim = _TablesNotCopied(Table)

    @contextmanager
    def tables_not_copied() -> Iterator[None]:
        models.copy = shim  # type: ignore[assignment]
        try:
            yield
        finally:
            models.copy = copy

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        before: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for entry in transact_items:
            try:
                (op,) = entry.values()
                table = self.get_table(op["TableName"])
                key = op.get("Key") or {name: op["Item"][name] for name in (table.hash_key_attr,
                                                                            table.range_key_attr) if name}
                item = self.get_item(op["TableName"], key)
            except Exception:
                continue
            before.append((op["TableName"], key, None if item is None else copy.deepcopy(item.to_json()["Attributes"])))
        with tables_not_copied():
            try:
                original(self, transact_items)
            except Exception:
                for table_name, key, attributes in reversed(before):
                    if attributes is None:
                        if self.get_item(table_name, key) is not None:
                            self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, attributes)
                raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed = True


def dispatch_once_per_host() -> None:
    """moto's server finds each request's service by listing its own package's directory (`os.listdir` and an
    `isdir` for each of ~200 entries) and then trying its URL patterns in turn, on every request and under one lock
    every request takes: 10-15% of the emulator's time in a profile of the pipeline. A host's service never
    changes, so it is looked up once. Only in the emulator's processes (moto's server is not imported elsewhere)."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    original = DomainDispatcherApplication.get_backend_for_host
    known: dict[str | None, Any] = {}

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        try:
            return known[host]
        except KeyError:
            backend = original(self, host)
            if len(known) < 4096:  # bucket names in virtual-host-style hosts: bounded
                known[host] = backend
            return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
