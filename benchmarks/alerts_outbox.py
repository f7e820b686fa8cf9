"""Alert outbox throughput on SQLite: alerts opened → routed through the shipped routing tree
(alerts/routing.yaml) → grouped into deliveries → leased → rendered → delivered to the local
mailbox → marked sent, the whole way the running service does it, with an injected clock.

Baseline, measured in the same run: the floor — the same number of rendered messages inserted
straight into the mailbox table, one transaction each (what delivery costs with no outbox, no
leases, no retries). The ratio says what the transactional outbox's safety costs per message.

    .venv/bin/python benchmarks/alerts_outbox.py [--alerts 1000] [--repeat 3]

Aim: 20 deliveries/s. A district produces a few alerts an hour and a bad day a few hundred;
at 20/s the backlog of the worst hour clears in well under a minute, and the dispatcher is idle
almost all the time. (Each delivery is five short transactions where the baseline is one: the
outbox row, the delivery formed, the lease, the message, the outcome.)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from monitor.alerts import outbox  # noqa: E402
from monitor.alerts.config import load_config  # noqa: E402
from monitor.alerts.dispatcher import Dispatcher  # noqa: E402
from monitor.alerts.notifiers.local import LocalNotifier  # noqa: E402
from monitor.alerts.render import make_environment  # noqa: E402
from monitor.store import db  # noqa: E402
from monitor.store.tables import alerts, deliveries, mailbox, metadata  # noqa: E402

AIM = 20.0
NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)  # a Tuesday, inside office hours
KINDS = ("threat", "call_to_gather", "hostility", "rising_tension", "rumour_spreading")
WARDS = ("Manningham", "Toller", "Heaton", "Little Horton", "Girlington", "Keighley Central")


async def fresh(path: Path) -> AsyncEngine:
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    await db.upgrade(engine)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine


async def outbox_run(path: Path, n: int) -> tuple[float, int]:
    engine = await fresh(path)
    config = load_config(ROOT / "alerts" / "routing.yaml", {})
    rng = random.Random(5)
    async with engine.begin() as conn:
        for i in range(n):
            labels = {"kind": rng.choice(KINDS), "area": WARDS[i % len(WARDS)], "cluster": f"c{i}"}
            await conn.execute(
                alerts.insert().values(
                    key=f"alert-{i}",
                    labels=labels,
                    summary=f"(fictional) alert {i}",
                    status="new",
                    post_count=1,
                    first_seen=NOW,
                    last_seen=NOW,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    notifiers = {(name, "local#0"): LocalNotifier(engine) for name in config.receivers}
    d = Dispatcher(
        engine,
        config,
        notifiers,
        make_environment(ROOT / "alerts" / "templates"),
        environ={},
        rng=random.Random(1),
        batch=200,
    )
    started = time.perf_counter()
    async with engine.begin() as conn:
        await outbox.route_changed_alerts(conn, config, NOW, {})
    at = NOW + timedelta(minutes=10)  # past every group_wait
    while await d.run_once(at):
        pass
    elapsed = time.perf_counter() - started
    async with engine.connect() as conn:
        sent = (
            await conn.execute(
                select(func.count()).select_from(deliveries).where(deliveries.c.status == "sent")
            )
        ).scalar_one()
    await engine.dispose()
    return elapsed, int(sent)


async def floor_run(path: Path, n: int) -> float:
    engine = await fresh(path)
    started = time.perf_counter()
    for i in range(n):
        async with engine.begin() as conn:
            await conn.execute(
                mailbox.insert().values(
                    idempotency_key=f"{i:064d}",
                    mailbox="communities-team",
                    subject=f"(fictional) alert {i}",
                    text="text",
                    html="<p>html</p>",
                    kind="alert",
                    sent_at=NOW,
                )
            )
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best_outbox, best_floor, sent = float("inf"), float("inf"), 0
    for r in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, sent = await outbox_run(Path(tmp) / f"o{r}.db", args.alerts)
            best_outbox = min(best_outbox, elapsed)
            best_floor = min(best_floor, await floor_run(Path(tmp) / f"f{r}.db", sent))
    outbox_rate, floor_rate = sent / best_outbox, sent / best_floor
    print(f"{args.alerts} alerts → {sent} deliveries (shipped routing; best of {args.repeat})")
    print(f"{'path':<44} {'seconds':>8} {'deliveries/s':>13}")
    outbox_label = "outbox: route, group, lease, render, deliver"
    print(f"{outbox_label:<44} {best_outbox:>8.2f} {outbox_rate:>13.0f}")
    print(
        f"{'baseline: insert into mailbox, 1 txn each':<44} {best_floor:>8.2f} {floor_rate:>13.0f}"
    )
    print(
        f"ratio outbox/baseline: {outbox_rate / floor_rate:.2f}×; aim {AIM:.0f}/s: "
        f"{'met' if outbox_rate >= AIM else 'NOT met'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
