"""Webhooks: a tenant's endpoints (`Webhook`, shown as `WebhookView`), the events they may ask for, one event's
delivery to one endpoint (`Delivery`) and each attempt at it (`DeliveryAttempt`); the Standard Webhooks
signature, the retry schedule, and which addresses an endpoint may have. Pure: no network, no AWS.

Ids are stable: an event's id (`webhook-id`, the receiver's deduplication key) is derived from what happened
(tenant, job or export, event type), and a delivery's id from the event and the endpoint, so announcing the
same change twice finds the delivery already there instead of making a second one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sluice.models.clock import iso_from_ms
from sluice.models.ids import new_sortable_id

EventType = Literal["job.accepted", "job.completed", "job.failed", "job.rejected", "job.canceled", "job.reverted",
                    "export.completed", "export.failed", "webhook.disabled"]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
ALL_EVENTS = "*"
WEBHOOKS_PER_TENANT = 20

# Seconds to wait after each failed attempt (Standard Webhooks' example schedule, shortened at the end):
# attempts at 0 s, 5 s, 5 min 5 s, 35 min, 2 h 35 min, 7 h 35 min, 17 h 35 min and 27 h 35 min after the first.
RETRY_DELAYS_S: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
JITTER = 0.1  # each wait is stretched by up to 10%, so endpoints that fail together are not retried together
ROTATION_OVERLAP_MS = 24 * 3_600_000  # a rotated-out secret still signs for this long
TIMEOUT_S = 5.0  # the whole attempt: connect, send, status line, headers, body
RESPONSE_MAX_BYTES = 64 * 1024  # read at most this much of an answer; the rest is not read
RESPONSE_EXCERPT = 500  # characters of the answer kept in the delivery log
SECRET_BYTES = 32
SECRET_PREFIX = "whsec_"

WEBHOOK_ID_PATTERN = re.compile(r"^wh_[0-9A-Z]{26}$")
DELIVERY_ID_PATTERN = re.compile(r"^dlv_[A-Z2-7]{24}$")


def _digest_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return prefix + base64.b32encode(digest[:15]).decode()


def event_id(tenant: str, subject: str, event_type: str) -> str:
    """The `webhook-id` of one event: the same every time the same thing is announced."""
    return _digest_id("msg_", tenant, subject, event_type)


def delivery_id(event: str, webhook_id: str) -> str:
    return _digest_id("dlv_", event, webhook_id)


def new_webhook_id() -> str:
    return "wh_" + new_sortable_id()


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp_s: int, body: bytes) -> str:
    """One Standard Webhooks signature: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp_s}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def retry_delay_s(attempt: int, jitter: float = 0.0) -> int | None:
    """Seconds from failed attempt `attempt` (1-based) to the next; None after the last. jitter: 0..1."""
    if attempt < 1 or attempt > len(RETRY_DELAYS_S):
        return None
    base = RETRY_DELAYS_S[attempt - 1]
    return int(base * (1 + JITTER * min(max(jitter, 0.0), 1.0)))


# --- which endpoints are allowed -------------------------------------------------------------------------


class UnsafeEndpoint(ValueError):
    """An endpoint URL or address that webhooks must not call: the message says why."""


def endpoint_parts(url: str, allow_loopback: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of an endpoint URL, or UnsafeEndpoint: HTTPS only (plain HTTP only to loopback
    where the local stack allows it), no credentials in the URL, a host name or address."""
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UnsafeEndpoint("the URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeEndpoint(f"the URL is not valid: {exc}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("https", "http"):
        raise UnsafeEndpoint("the URL must start with https://")
    if not host:
        raise UnsafeEndpoint("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeEndpoint("the URL must not carry a user name or password")
    if parts.fragment:
        raise UnsafeEndpoint("the URL must not have a #fragment")
    if scheme == "http" and not (allow_loopback and _is_loopback_name(host)):
        raise UnsafeEndpoint("the URL must start with https:// (plain http is allowed only for 127.0.0.1 in the "
                             "local stack)")
    return scheme, host, port or (443 if scheme == "https" else 80)


def _is_loopback_name(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("169.254.170.2"),
             ipaddress.ip_address("fd00:ec2::254")}


def refused_address(address: str, allow_loopback: bool) -> str | None:
    """Why webhooks must not connect to this IP address, or None when it is a public one."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):  # an IPv4 address inside an IPv6 one is judged as that address
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return refused_address(str(embedded), allow_loopback)
    if ip in _METADATA:
        return f"{ip} is a cloud metadata address"
    if ip.is_loopback:
        return None if allow_loopback else f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_private:
        return f"{ip} is a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return f"{ip} is not a public address"
    return None


# --- endpoints ----------------------------------------------------------------------------------------------


def _normalised_events(events: list[str]) -> list[str]:
    return [ALL_EVENTS] if ALL_EVENTS in events else sorted(set(events))


class WebhookRequest(BaseModel):
    """POST /v1/webhooks."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, description="https:// on a public address")
    events: list[EventType | Literal["*"]] = Field(min_length=1, max_length=len(EVENT_TYPES) + 1,
                                                   description="event types to receive, or [\"*\"] for all")
    description: str | None = Field(default=None, max_length=500)

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[str]) -> list[str]:
        return _normalised_events(events)


class WebhookPatch(BaseModel):
    """PATCH /v1/webhooks/{webhookId}: the fields given change. `enabled: true` turns a disabled endpoint back on."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[EventType | Literal["*"]] | None = Field(default=None, min_length=1,
                                                          max_length=len(EVENT_TYPES) + 1)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[str] | None) -> list[str] | None:
        return None if events is None else _normalised_events(events)


class Webhook(BaseModel):
    """An endpoint as stored, secrets included (never shown after they are made)."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    webhookId: str
    url: str
    events: list[str]
    description: str | None = None
    enabled: bool = True
    disabledReason: str | None = None
    disabledMs: int | None = None
    secret: str
    previousSecret: str | None = None
    previousSecretUntilMs: int | None = None
    createdBy: str
    createdMs: int
    updatedMs: int
    lastSuccessMs: int | None = None
    lastFailureMs: int | None = None

    def wants(self, event_type: str) -> bool:
        return self.enabled and (ALL_EVENTS in self.events or event_type in self.events)

    def signing_secrets(self, now_ms: int) -> list[str]:
        """The current secret, and the previous one during the 24 hours after a rotation."""
        if self.previousSecret and (self.previousSecretUntilMs or 0) > now_ms:
            return [self.secret, self.previousSecret]
        return [self.secret]

    def signature_header(self, message_id: str, timestamp_s: int, body: bytes, now_ms: int) -> str:
        return " ".join(sign(s, message_id, timestamp_s, body) for s in self.signing_secrets(now_ms))

    def view(self, now_ms: int) -> WebhookView:
        overlap = self.previousSecretUntilMs if self.previousSecretUntilMs and self.previousSecretUntilMs > now_ms \
            else None
        return WebhookView(webhookId=self.webhookId, url=self.url, events=self.events, description=self.description,
                           enabled=self.enabled, disabledReason=self.disabledReason,
                           disabledAt=iso_from_ms(self.disabledMs), createdAt=iso_from_ms(self.createdMs),
                           updatedAt=iso_from_ms(self.updatedMs), lastSuccessAt=iso_from_ms(self.lastSuccessMs),
                           lastFailureAt=iso_from_ms(self.lastFailureMs),
                           previousSecretExpiresAt=iso_from_ms(overlap))


class WebhookView(BaseModel):
    """An endpoint as `GET /v1/webhooks/{webhookId}` shows it (never its secret)."""

    webhookId: str
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabledReason: str | None
    disabledAt: str | None
    createdAt: str | None
    updatedAt: str | None
    lastSuccessAt: str | None
    lastFailureAt: str | None
    previousSecretExpiresAt: str | None = Field(description="until then deliveries are signed with the "
                                                            "rotated-out secret too")

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class WebhookSecretView(WebhookView):
    """The answer of POST /v1/webhooks and of rotate-secret: the only time the secret is shown."""

    secret: str = Field(description="whsec_ + base64 of the HMAC key; shown once")


# --- deliveries ---------------------------------------------------------------------------------------------

DeliveryStatus = Literal["pending", "succeeded", "failed", "canceled"]


class Delivery(BaseModel):
    """One event to one endpoint: the exact body signed and sent, and where its attempts stand."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    webhookId: str
    deliveryId: str
    eventId: str
    eventType: str
    body: str
    status: DeliveryStatus = "pending"
    attempts: int = 0  # attempts claimed so far
    lastAttempt: int = MAX_ATTEMPTS  # the number of the last attempt allowed (a redelivery adds one)
    nextAttemptMs: int | None = None
    createdMs: int
    firstAttemptMs: int | None = None
    reason: str | None = None
    expiresAt: int


class DeliveryMessage(BaseModel):
    """What the webhook queue carries: make attempt `attempt` of a delivery."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    webhookId: str
    deliveryId: str
    attempt: int


class AttemptOutcome(BaseModel):
    """What one HTTP attempt got."""

    ok: bool
    responseCode: int | None = None
    durationMs: int = 0
    error: str | None = None
    response: str | None = None
    gone: bool = False  # 410: the receiver asks not to be sent anything more


class DeliveryAttempt(BaseModel):
    """One attempt as the delivery log (`GET /v1/webhooks/{webhookId}/deliveries`) lists it."""

    deliveryId: str
    eventId: str = Field(description="the webhook-id header: the same on every attempt of the event")
    type: str
    attempt: int
    status: Literal["succeeded", "failed"]
    responseCode: int | None
    durationMs: int
    error: str | None
    response: str | None = Field(description=f"the first {RESPONSE_EXCERPT} characters of the answer")
    at: str | None
    nextAttemptAt: str | None = Field(description="when the next attempt is due; null when none will be made")

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
