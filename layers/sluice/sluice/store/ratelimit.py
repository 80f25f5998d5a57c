"""Requests per second per API key, counted in DynamoDB so every API instance shares the count.

One counter item per key and second (fixed windows): a conditional ADD admits the request while the count
is under the limit. Items expire by TTL a minute later."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from sluice.models.clock import now_ms
from sluice.models.errors import TooManyRequests
from sluice.store.clients import Clients, aws_unavailable

logger = Logger(child=True)


class KeyRateLimiter:
    def __init__(self, clients: Clients) -> None:
        self._db = clients.dynamodb
        self._table = clients.settings.jobs_table
        self.limit = clients.settings.key_rate_limit

    def admit(self, key_id: str) -> None:
        """Counts one request of this key; TooManyRequests when its second is full."""
        if self.limit <= 0 or not key_id:
            return
        now = now_ms()
        second = now // 1000
        try:
            self._db.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"RATE#{key_id}"}, "sk": {"S": str(second)}},
                UpdateExpression="ADD n :one SET expiresAt = if_not_exists(expiresAt, :expires)",
                ConditionExpression="attribute_not_exists(n) OR n < :limit",
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(self.limit)},
                                           ":expires": {"N": str(second + 60)}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            raise TooManyRequests(
                f"this API key made more than {self.limit} requests in one second; slow down and retry after the "
                "Retry-After header's seconds", retry_after=1) from None
        except (ClientError, BotoCoreError) as exc:
            if aws_unavailable(exc) is None:
                raise
            logger.warning("rate counter unavailable; request admitted", extra={"error": str(exc)})
