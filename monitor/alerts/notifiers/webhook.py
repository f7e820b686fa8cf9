"""A generic webhook, signed the Standard Webhooks way (standardwebhooks.com):

    webhook-id:        the idempotency key (the same on every retry of one message)
    webhook-timestamp: Unix seconds
    webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">

The secret is `whsec_` followed by base64 key bytes, given by environment variable
(`secret_env`). Receivers verify the signature and drop ids they have already seen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

import aiohttp

from monitor.alerts.notifiers import Outcome
from monitor.alerts.notifiers.http import post
from monitor.alerts.render import Message, webhook_body


def secret_bytes(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError:
        raise ValueError("webhook secret must be whsec_ followed by base64") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (used by the tests, and handy for receivers written in Python)."""
    expected = sign(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    return any(
        hmac.compare_digest(expected, sig) for sig in headers["webhook-signature"].split(" ")
    )


class WebhookNotifier:
    channel = "webhook"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        secret: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if secret is not None:
            secret_bytes(secret)  # refuse a malformed secret when the receiver is built
        self.session = session
        self.url = url
        self.secret = secret
        self.timeout = timeout

    async def send(
        self, message: Message, recipient: str, idempotency_key: str, now: datetime
    ) -> Outcome:
        body = webhook_body(message, idempotency_key, now)
        timestamp = int(now.timestamp())
        headers = {"webhook-id": idempotency_key, "webhook-timestamp": str(timestamp)}
        if self.secret:
            headers["webhook-signature"] = sign(self.secret, idempotency_key, timestamp, body)
        return await post(self.session, self.url, body, headers, self.timeout)
