"""Download links of exports: ours, not S3's. A presigned URL lives only as long as the credentials that
signed it (a Lambda role's last hours, not days), so each link carries an HMAC-signed token valid 7 days
and answers with a redirect to a fresh, five-minute presigned URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

import orjson

from sluice.models.clock import now_ms
from sluice.models.errors import NotFound
from sluice.models.export import LINK_DAYS, Export
from sluice.store.blobs import Storage, export_part_key
from sluice.store.clients import Clients
from sluice.store.keys import KeyStore

REDIRECT_SECONDS = 300


@lru_cache(maxsize=4)
def _secret(clients: Clients) -> bytes:
    if not clients.settings.link_secret_arn:
        raise RuntimeError("LINK_SECRET_ARN is not set")
    return str(clients.secrets.get_secret_value(SecretId=clients.settings.link_secret_arn)["SecretString"]).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def download_links(clients: Clients, export: Export, base_url: str | None = None) -> list[str]:
    """The export's parts as signed links of this API (base_url: the API's address; default PUBLIC_API_URL)."""
    base = (clients.settings.public_api_url if base_url is None else base_url).rstrip("/")
    expires = export.links_expire_ms
    extension = export.request.file_format
    links = []
    for part in range(1, export.parts + 1):
        claims = {"k": export_part_key(export.tenant, export.exportId, part, extension), "x": expires,
                  "t": export.tenant, "s": export.submittedBy}
        payload = _b64(orjson.dumps(claims))
        signature = _b64(hmac.new(_secret(clients), payload.encode(), hashlib.sha256).digest())
        links.append(f"{base}/v1/export-links/{payload}.{signature}")
    return links


def resolve_link(clients: Clients, token: str) -> str:
    """A signed link -> a fresh short-lived S3 URL; NotFound for anything forged, altered or expired."""
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(_secret(clients), payload.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(expected, signature):
        raise NotFound("this download link is not valid")
    try:
        claims = orjson.loads(_unb64(payload))
    except (ValueError, orjson.JSONDecodeError):
        raise NotFound("this download link is not valid") from None
    if now_ms() > int(claims["x"]):
        raise NotFound(f"this download link expired {LINK_DAYS} days after its export finished; export again")
    if "s" in claims and KeyStore(clients).is_revoked(str(claims["t"]), str(claims["s"])):
        raise NotFound("this download link ended when the key that created the export was revoked")
    return Storage(clients).presign_get(str(claims["k"]), REDIRECT_SECONDS)
