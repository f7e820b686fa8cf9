"""Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook request is
received"): one Adaptive Card per message. The URL is a secret (`url_env`)."""

from __future__ import annotations

import json
from datetime import datetime

import aiohttp

from monitor.alerts.notifiers import Outcome
from monitor.alerts.notifiers.http import post
from monitor.alerts.render import Message, teams_payload


class TeamsNotifier:
    channel = "teams"

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout: float = 10.0) -> None:
        self.session = session
        self.url = url
        self.timeout = timeout

    async def send(
        self, message: Message, recipient: str, idempotency_key: str, now: datetime
    ) -> Outcome:
        body = json.dumps(teams_payload(message), ensure_ascii=False).encode()
        # Teams has no idempotency support; the key travels as a header for proxies and logs.
        headers = {"Idempotency-Key": idempotency_key}
        return await post(self.session, self.url, body, headers, self.timeout)
