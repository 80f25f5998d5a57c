"""Webhook rules without AWS: the Standard Webhooks signature (checked with the reference library), which
endpoints and addresses are refused, the retry schedule, secret rotation, the capped read."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook as ReferenceWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from sluice.config import Settings
from sluice.models.webhook import (
    MAX_ATTEMPTS,
    RESPONSE_MAX_BYTES,
    RETRY_DELAYS_S,
    ROTATION_OVERLAP_MS,
    UnsafeEndpoint,
    Webhook,
    delivery_id,
    endpoint_parts,
    event_id,
    new_secret,
    refused_address,
    retry_delay_s,
    sign,
)
from sluice.notify import webhook_http
from sluice_local.template import Template


def test_signatures_verify_with_the_reference_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = b'{"type":"job.completed","timestamp":"2026-01-01T00:00:00.000Z","data":{"jobId":"J"}}'
    now = int(datetime.now(UTC).timestamp())
    signature = sign(secret, "msg_ABC", now, body)
    reference = ReferenceWebhook(secret)
    assert signature == reference.sign("msg_ABC", datetime.fromtimestamp(now, UTC), body.decode())
    headers = {"webhook-id": "msg_ABC", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert reference.verify(body, headers)["data"] == {"jobId": "J"}
    with pytest.raises(WebhookVerificationError):
        reference.verify(body.replace(b"J", b"K"), headers)
    with pytest.raises(WebhookVerificationError):
        ReferenceWebhook(new_secret()).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_each_verifies() -> None:
    now_ms = 1_800_000_000_000
    old, new = new_secret(), new_secret()
    endpoint = Webhook(tenant="t", webhookId="wh_X", url="https://x.example/", events=["*"], secret=new,
                       previousSecret=old, previousSecretUntilMs=now_ms + ROTATION_OVERLAP_MS, createdBy="k",
                       createdMs=now_ms, updatedMs=now_ms)
    seconds = int(datetime.now(UTC).timestamp())
    header = endpoint.signature_header("msg_1", seconds, b"{}", now_ms)
    assert len(header.split(" ")) == 2
    for secret in (old, new):
        ReferenceWebhook(secret).verify(b"{}", {"webhook-id": "msg_1", "webhook-timestamp": str(seconds),
                                                "webhook-signature": header})
    assert endpoint.signing_secrets(now_ms + ROTATION_OVERLAP_MS - 1) == [new, old]
    assert endpoint.signing_secrets(now_ms + ROTATION_OVERLAP_MS) == [new]  # 24 hours on, the old one is gone
    assert endpoint.view(now_ms + ROTATION_OVERLAP_MS).previousSecretExpiresAt is None


def test_ids_are_stable_per_event_and_per_endpoint() -> None:
    first = event_id("acme", "job:J1", "job.completed")
    assert first == event_id("acme", "job:J1", "job.completed")
    assert len({first, event_id("globex", "job:J1", "job.completed"), event_id("acme", "job:J1", "job.failed"),
                event_id("acme", "job:J2", "job.completed")}) == 4
    assert "." not in first and first.startswith("msg_")  # signed content is {id}.{timestamp}.{body}
    assert delivery_id(first, "wh_A") == delivery_id(first, "wh_A") != delivery_id(first, "wh_B")


def test_the_retry_schedule_covers_more_than_a_day_and_backs_off() -> None:
    assert MAX_ATTEMPTS == 8
    assert sum(RETRY_DELAYS_S) >= 24 * 3600
    assert list(RETRY_DELAYS_S) == sorted(RETRY_DELAYS_S)
    assert max(RETRY_DELAYS_S) <= 36_000
    assert [retry_delay_s(n) for n in range(1, MAX_ATTEMPTS + 1)] == [*RETRY_DELAYS_S, None]
    assert retry_delay_s(3, jitter=1.0) == int(1800 * 1.1)


@pytest.mark.parametrize("address, why", [
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"), ("127.0.0.1", "loopback"),
    ("127.8.8.8", "loopback"), ("::1", "loopback"), ("169.254.169.254", "metadata"), ("169.254.10.10", "link-local"),
    ("fd00:ec2::254", "metadata"), ("fe80::1", "link-local"), ("fc00::5", "private"), ("0.0.0.0", "0.0.0.0 is a"),
    ("100.64.0.1", "public"), ("224.0.0.1", "public"), ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "metadata"), ("64:ff9b::a00:1", "private"), ("2002:a00:1::", "private"),
    ("198.51.100.7", "198.51.100.7 is a"), ("not-an-ip", "not an IP"),
])
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address: str, why: str) -> None:
    reason = refused_address(address, allow_loopback=False)
    assert reason is not None and why in reason, reason


def test_public_addresses_pass_and_loopback_only_where_allowed() -> None:
    for address in ("93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946"):
        assert refused_address(address, allow_loopback=False) is None
    assert refused_address("127.0.0.1", allow_loopback=True) is None
    assert refused_address("::1", allow_loopback=True) is None
    assert refused_address("10.0.0.1", allow_loopback=True) is not None


@pytest.mark.parametrize("url, allow_loopback, message", [
    ("http://hooks.example/in", False, "https://"), ("ftp://hooks.example/", False, "https://"),
    ("https://user:pw@hooks.example/", False, "user name"), ("https:///path", False, "no host"),
    ("https://hooks.example/#x", False, "fragment"), ("https://hooks.example:99999/", False, "not valid"),
    ("https://hooks.exa mple/", False, "spaces"), ("http://127.0.0.1:8080/", False, "https://"),
    ("http://10.0.0.1/", True, "https://"),
])
def test_endpoint_urls_that_are_refused(url: str, allow_loopback: bool, message: str) -> None:
    with pytest.raises(UnsafeEndpoint, match=message):
        endpoint_parts(url, allow_loopback)


def test_endpoint_urls_that_pass() -> None:
    assert endpoint_parts("https://Hooks.Example/in?x=1", False) == ("https", "hooks.example", 443)
    assert endpoint_parts("https://hooks.example:8443/", False) == ("https", "hooks.example", 8443)
    assert endpoint_parts("http://127.0.0.1:9/x", True) == ("http", "127.0.0.1", 9)


def test_hosts_are_resolved_and_every_address_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {"good.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.0.0.7"],
             "meta.example": ["169.254.169.254"], "empty.example": [], "sneaky.example": ["127.0.0.1"]}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    monkeypatch.setattr(webhook_http, "resolve", resolve)
    assert webhook_http.checked_endpoint("https://good.example/", False)[3] == ["93.184.216.34"]
    for host, why in (("mixed.example", "private"), ("meta.example", "metadata"), ("empty.example", "resolve"),
                      ("nowhere.example", "does not resolve"), ("sneaky.example", "loopback")):
        with pytest.raises(UnsafeEndpoint, match=why):
            webhook_http.checked_endpoint(f"https://{host}/", False)
    # even where loopback is allowed, plain http goes to loopback addresses only
    table["localhost"] = ["93.184.216.34"]
    with pytest.raises(UnsafeEndpoint, match="loopback"):
        webhook_http.checked_endpoint("http://localhost:8080/", True)


def test_a_refused_endpoint_is_never_connected_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_http, "resolve", lambda host, port: ["10.1.1.1"])

    def no_connection(*_: object, **__: object) -> None:
        raise AssertionError("connected")

    monkeypatch.setattr(webhook_http.socket, "create_connection", no_connection)
    outcome = webhook_http.post("https://inside.example/", {}, b"{}")
    assert not outcome.ok and outcome.error and "private address" in outcome.error and outcome.responseCode is None


def test_at_most_64_kib_of_an_answer_is_read() -> None:
    class Endless(io.RawIOBase):
        def __init__(self) -> None:
            self.served = 0

        def read(self, size: int = -1) -> bytes:
            self.served += size
            return b"x" * size

    answer = Endless()
    data = webhook_http._read_capped(answer, deadline=float("inf"))
    assert len(data) == RESPONSE_MAX_BYTES and answer.served == RESPONSE_MAX_BYTES


def test_the_template_never_allows_loopback_endpoints_or_speeds_up_retries() -> None:
    """Those two settings are the local stack's alone (sluice_local sets them): never on AWS."""
    template = Template()
    for spec in template.functions().values():
        assert "SLUICE_WEBHOOKS_ALLOW_LOOPBACK" not in spec.environment
        assert "SLUICE_WEBHOOK_RETRY_SPEEDUP" not in spec.environment
    assert Settings.from_env({}).webhooks_allow_loopback is False
    assert Settings.from_env({}).webhook_retry_speedup == 1
    assert template.resources["WebhookQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
    events = template.resources["WebhookFunction"]["Properties"]["Events"]
    assert events["LostAttempts"]["Properties"]["Schedule"] == "rate(5 minutes)"
