"""E-mail through an SMTP server with aiosmtplib: TLS from the start (`tls: tls`, port 465),
STARTTLS (`tls: starttls`, the default, port 587) or none (`tls: none`, a local relay only).
Each message has a text and an HTML part; its Message-ID is made from the idempotency key, so
a message re-sent after a crash carries the same id and mail systems can drop the copy.

SMTP 4xx answers (451 "try later") and connection trouble are retried; 5xx answers (550 "no
such mailbox") are final.
"""

from __future__ import annotations

import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import aiosmtplib

from monitor.alerts import chart_png
from monitor.alerts.notifiers import Outcome
from monitor.alerts.render import Message, one_line


class EmailNotifier:
    channel = "email"

    def __init__(
        self,
        *,
        host: str,
        sender: str,
        port: int | None = None,
        tls: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.sender = sender
        self.tls = tls
        self.port = port or {"tls": 465, "starttls": 587}.get(tls, 25)
        self.username = username
        self.password = password
        self.timeout = timeout
        self.tls_context = tls_context

    def build(self, message: Message, recipient: str, key: str, now: datetime) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = recipient
        mail["Subject"] = one_line(message.subject, 250)
        mail["Date"] = format_datetime(now)
        domain = self.sender.rsplit("@", 1)[-1]
        mail["Message-ID"] = f"<{key}@{domain}>"
        mail["X-Monitor-Idempotency-Key"] = key
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        if message.data.get("type") == "digest" and f"cid:{chart_png.CID}" in message.html:
            png = chart_png.levels_png(message.data.get("levels"))
            if png is not None:
                # Inline (multipart/related) so mail clients show it without fetching anything.
                html_part = mail.get_body(("html",))
                if isinstance(html_part, EmailMessage):
                    html_part.add_related(png, "image", "png", cid=f"<{chart_png.CID}>")
        return mail

    async def send(
        self, message: Message, recipient: str, idempotency_key: str, now: datetime
    ) -> Outcome:
        mail = self.build(message, recipient, idempotency_key, now)
        options: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "timeout": self.timeout,
            "use_tls": self.tls == "tls",
            "start_tls": True
            if self.tls == "starttls"
            else (False if self.tls == "none" else None),
        }
        if self.tls_context is not None:
            options["tls_context"] = self.tls_context
        if self.username:
            options["username"] = self.username
            options["password"] = self.password or ""
        try:
            await aiosmtplib.send(mail, **options)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if all(400 <= c < 500 for c in codes):
                return Outcome.retry(f"recipient deferred: {text}")
            return Outcome.fatal(f"recipient refused: {text}")
        except aiosmtplib.SMTPResponseException as exc:
            detail = f"SMTP {exc.code}: {exc.message}"
            if 400 <= exc.code < 500 or exc.code in (530, 535, 538):
                # 4xx: try later. 530/535: authentication trouble is configuration, and a
                # message must not be lost while someone fixes the password.
                return Outcome.retry(detail)
            return Outcome.fatal(detail)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Outcome.retry(f"{type(exc).__name__}: {exc}")
        return Outcome.sent()
