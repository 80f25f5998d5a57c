"""API keys and permissions. Only the sha256 of a key is stored; a key is found by that digest and the
digest compared in constant time. Generated keys look like `sk_<keyId>_<random>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from sluice.models.clock import iso_from_ms, now_ms
from sluice.models.errors import BadRequest, Conflict
from sluice.models.ids import new_key_id
from sluice.models.principal import PERMISSIONS, Principal
from sluice.store.clients import Clients
from sluice.store.dynamo import conditional_write, from_item, query_pages, to_item


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_from_header(header: str | None) -> str | None:
    """`Bearer <key>`, `apikey <key>`, or HTTP Basic with any user name and the key as password -> the key."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() == "basic" and 0 < len(token) <= 1024:
        token = _basic_password(token)
    elif scheme.lower() not in ("bearer", "apikey"):
        return None
    if not token or len(token) > 512:
        return None
    return token


def _basic_password(credentials: str) -> str:
    """The password of HTTP Basic credentials (`curl --user haplo:$KEY`), or "" when they are malformed."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2] if ":" in decoded else ""


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

    def tenant_has_keys(self, tenant: str) -> bool:
        """A tenant exists once it has an API key (the first thing a tenant is given)."""
        found = self._db.query(TableName=self._table, IndexName="gsi1", Limit=1, KeyConditionExpression="gsi1pk = :pk",
                               ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant}#APIKEYS"}})
        return bool(found.get("Items"))

    def list(self, tenant: str) -> list[dict[str, Any]]:
        items = query_pages(self._db, TableName=self._table, IndexName="gsi1",
                            KeyConditionExpression="gsi1pk = :pk",
                            ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant}#APIKEYS"}})
        return [self._view(from_item(i)) for i in items]

    def _find(self, tenant: str, key_id: str) -> dict[str, Any] | None:
        found = self._db.query(TableName=self._table, IndexName="gsi1",
                               KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :id",
                               ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant}#APIKEYS"},
                                                          ":id": {"S": key_id}}).get("Items", [])
        return found[0] if found else None

    def describe(self, tenant: str, key_id: str) -> dict[str, Any] | None:
        """A key of the tenant as listed (never its secret), or None."""
        item = self._find(tenant, key_id)
        return self._view(from_item(item)) if item else None

    def is_revoked(self, tenant: str, key_id: str) -> bool:
        """True for a key of the tenant that was revoked (False for an unknown id, such as a drop folder's)."""
        item = self._find(tenant, key_id)
        return item is not None and "revokedMs" in item

    def revoke(self, tenant: str, key_id: str) -> bool:
        item = self._find(tenant, key_id)
        if item is None:
            return False
        self._db.update_item(
            TableName=self._table, Key={"pk": item["pk"], "sk": item["sk"]},
            UpdateExpression="SET revokedMs = if_not_exists(revokedMs, :now)",
            ExpressionAttributeValues={":now": {"N": str(now_ms())}},
        )
        return True

    @staticmethod
    def _view(item: dict[str, Any]) -> dict[str, Any]:
        return {"keyId": item["keyId"], "name": item.get("name"), "permissions": list(item["permissions"]),
                "createdAt": iso_from_ms(item.get("createdMs")), "revoked": "revokedMs" in item,
                "revokedAt": iso_from_ms(item.get("revokedMs"))}
