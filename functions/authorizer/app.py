"""HTTP API Lambda authorizer (payload 2.0, simple responses): resolves the API key to its tenant.

It authenticates only. Requests with a missing or unknown key pass on without a tenant, and the API
function answers them 401 in the contract's error shape; permissions are checked per route there."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from sluice.api.access import UNAVAILABLE
from sluice.store.clients import aws_unavailable, get_clients
from sluice.store.keys import KeyStore

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        keys = KeyStore(get_clients())
        principal = keys.authenticate(headers.get("authorization"))
        if principal is None and headers.get("ocp-apim-subscription-key"):  # TeamTracks (004) clients' other header
            principal = keys.authenticate(f"apikey {headers['ocp-apim-subscription-key']}")
    except (ClientError, BotoCoreError) as exc:
        if aws_unavailable(exc) is None:
            raise
        # An authorizer that fails makes API Gateway answer a bare 500; the API function answers 503 instead.
        logger.warning("key lookup unavailable", extra={"error": str(exc)})
        return {"isAuthorized": True, "context": {"tenant": "", "authError": UNAVAILABLE}}
    if principal is None:
        return {"isAuthorized": True, "context": {"tenant": "", "authError": "missing or unknown API key"}}
    logger.append_keys(tenant=principal.tenant, keyId=principal.key_id)
    return {
        "isAuthorized": True,
        "context": {"tenant": principal.tenant, "keyId": principal.key_id,
                    "permissions": ",".join(sorted(principal.permissions))},
    }
