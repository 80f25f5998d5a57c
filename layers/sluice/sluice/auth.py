"""API keys and permissions. Only the sha256 of a key is stored; a key is found by that digest and the
digest compared in constant time. Generated keys look like `sk_<keyId>_<random>`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sluice.aws import Clients
from sluice.clock import iso_from_ms, now_ms
from sluice.dynamo import conditional_write, from_item, query_pages, to_item
from sluice.errors import BadRequest, Conflict
from sluice.ids import new_key_id

PERMISSIONS = frozenset({
    "imports:write", "imports:read", "exports:write", "exports:read", "records:read", "records:write",
    "schemas:write", "keys:admin", "*",
})


@dataclass(frozen=True)
class Principal:
    tenant: str
    key_id: str
    permissions: frozenset[str]

    def allows(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_from_header(header: str | None) -> str | None:
    """`Bearer <key>` or `apikey <key>` -> the key."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in ("bearer", "apikey") or not token or len(token) > 512:
        return None
    return token


class KeyStore:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table

    def create(self, tenant: str, name: str, permissions: list[str], key: str | None = None) -> dict[str, Any]:
        """Stores a new key (generated unless given) and returns it; only its sha256 is kept."""
        unknown = sorted(set(permissions) - PERMISSIONS)
        if unknown:
            raise BadRequest(f"unknown permissions: {', '.join(unknown)}; known: {', '.join(sorted(PERMISSIONS))}")
        if not permissions:
            raise BadRequest("a key needs at least one permission")
        key_id = new_key_id()
        key = key or f"sk_{key_id}_{secrets.token_urlsafe(32)}"
        created = now_ms()
        stored = {"keyId": key_id, "name": name, "permissions": sorted(set(permissions)), "createdMs": created}
        written = conditional_write(self._db, "PutItem", lambda current: current.get("keyId") == {"S": key_id},
                                    TableName=self._table, Item=to_item({
            "pk": f"APIKEY#{digest(key)}", "sk": "APIKEY", "gsi1pk": f"TENANT#{tenant}#APIKEYS",
            "gsi1sk": key_id, "tenant": tenant, "keySha256": digest(key), **stored,
        }), ConditionExpression="attribute_not_exists(pk)")
        if written is None:
            raise Conflict("that key exists already")
        return {**self._view(stored), "key": key}

    def authenticate(self, header: str | None) -> Principal | None:
        key = key_from_header(header)
        if key is None:
            return None
        hashed = digest(key)
        item = self._db.get_item(TableName=self._table, Key={"pk": {"S": f"APIKEY#{hashed}"}, "sk": {"S": "APIKEY"}},
                                 ConsistentRead=True).get("Item")
        if not item or "revokedMs" in item:
            return None
        if not hmac.compare_digest(item["keySha256"]["S"], hashed):
            return None
        stored = from_item(item)
        return Principal(stored["tenant"], stored["keyId"], frozenset(stored["permissions"]))

    def list(self, tenant: str) -> list[dict[str, Any]]:
        items = query_pages(self._db, TableName=self._table, IndexName="gsi1",
                            KeyConditionExpression="gsi1pk = :pk",
                            ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant}#APIKEYS"}})
        return [self._view(from_item(i)) for i in items]

    def revoke(self, tenant: str, key_id: str) -> bool:
        found = self._db.query(TableName=self._table, IndexName="gsi1",
                               KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :id",
                               ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant}#APIKEYS"},
                                                          ":id": {"S": key_id}}).get("Items", [])
        if not found:
            return False
        self._db.update_item(
            TableName=self._table, Key={"pk": found[0]["pk"], "sk": found[0]["sk"]},
            UpdateExpression="SET revokedMs = if_not_exists(revokedMs, :now)",
            ExpressionAttributeValues={":now": {"N": str(now_ms())}},
        )
        return True

    @staticmethod
    def _view(item: dict[str, Any]) -> dict[str, Any]:
        return {"keyId": item["keyId"], "name": item.get("name"), "permissions": list(item["permissions"]),
                "createdAt": iso_from_ms(item.get("createdMs")), "revoked": "revokedMs" in item,
                "revokedAt": iso_from_ms(item.get("revokedMs"))}
