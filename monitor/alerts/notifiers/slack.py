"""Slack through an incoming webhook. 429 answers carry Retry-After, which the outbox honours
for the whole receiver. The URL is a secret (`url_env`)."""

from __future__ import annotations

import json
from datetime import datetime

import aiohttp

from monitor.alerts.notifiers import Outcome
from monitor.alerts.notifiers.http import post
from monitor.alerts.render import Message, slack_payload


class SlackNotifier:
    channel = "slack"

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout: float = 10.0) -> None:
        self.session = session
        self.url = url
        self.timeout = timeout

    async def send(
        self, message: Message, recipient: str, idempotency_key: str, now: datetime
    ) -> Outcome:
        body = json.dumps(slack_payload(message), ensure_ascii=False).encode()
        return await post(self.session, self.url, body, {}, self.timeout)
