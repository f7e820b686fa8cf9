"""The `local` receiver: the message is stored in the `mailbox` table and shown in the web UI.
It needs no mail server, so the embedded default works anywhere. Inserting is idempotent on
the delivery's key, so a retry after a crash never stores a message twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts.notifiers import Outcome
from monitor.alerts.outbox import upsert
from monitor.alerts.render import Message
from monitor.privacy.mailbox_access import alert_kinds, encode, readers_for
from monitor.store.tables import mailbox


class LocalNotifier:
    channel = "local"

    def __init__(self, engine: AsyncEngine, sro_mailbox: str = "sro") -> None:
        self.engine = engine
        self.sro_mailbox = sro_mailbox

    async def send(
        self, message: Message, recipient: str, idempotency_key: str, now: datetime
    ) -> Outcome:
        kind = str(message.data.get("type", "alert"))
        # Readers follow the alerts the message carries: a threat alert's excerpts are not for
        # comms, whichever mailbox they were delivered to.
        readers = readers_for(kind, alert_kinds(message.data), recipient, self.sro_mailbox)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    upsert(conn, mailbox)
                    .values(
                        idempotency_key=idempotency_key,
                        mailbox=recipient,
                        subject=message.subject,
                        text=message.text,
                        html=message.html,
                        kind=kind,
                        sent_at=now,
                        readers=encode(readers),
                    )
                    .on_conflict_do_nothing(index_elements=["idempotency_key"])
                )
        except SQLAlchemyError as exc:
            return Outcome.retry(f"store: {type(exc).__name__}: {exc}")
        return Outcome.sent()
