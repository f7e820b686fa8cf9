"""Copy-paste waves: `monitor import` of a wave of near-identical posts (one sentence with an
added emoji, a different @mention or a hashtag, about one ward, from 300 accounts over two
hours, as real events produce) against as many varied posts, on SQLite with the keyword
classifier, the shipped rules, signals, incidents and alerts; this checkout against a baseline
commit, both measured in the same run, turn about.

    .venv/bin/python benchmarks/waves.py [--posts 3000] [--baseline REF] [--repeat 2] [--batch N]

The baseline commit is checked out with `git worktree add --detach` into a temporary folder
(removed after) and run with this checkout's virtual environment. Each case runs in a fresh
process on a fresh store; the best of `--repeat` runs is shown (wall time from the first line
read to every post processed, and that process's CPU), with wave / varied per side and
after / before per case. `--batch N` imports N posts a transaction (default the setting
`ingest_batch_size`, 500), as a worker taking small batches off a Redis stream does (50):
whatever a stage does once a batch over a story's whole evidence costs N times more often.

Why: the windowed rules' reading (monitor/rules/window_store.py) used to run one SQL aggregate
per post over every stored post in the window and its baseline, so a wave of 3,000 posts about
one ward cost O(wave) a post: 3,000 wave posts took 3.4x as long as 3,000 varied ones. Then, in
batches of 50, the incidents stage read every open alert's evidence posts in full again each
batch and asked of each whether it answers its story (monitor/incidents/cache.py now keeps
their facts, checked against the store each batch): the wave ran at 0.28 of the varied posts'
rate, 0.35 after (`--batch 50 --baseline cdd1e26` compares with the commit before).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The last commit before the windowed rules read each batch's windows once.
DEFAULT_BASELINE = "dae1db1"
PLACES = ["Manningham", "Girlington", "Toller", "Lidget Green", "City Park", "Keighley", "Heaton"]
TOPICS = [
    "bins not collected",
    "roadworks on the main road",
    "the new cafe opening",
    "library hours changing",
    "lost cat near the park",
    "school fete on Saturday",
    "bus route diverted",
    "power cut this morning",
]
CLAIM = (
    "(fictional) They are closing the mosque in Manningham and moving everyone out, police "
    "told my cousin, share before it gets deleted"
)
EMOJI = ["", " 😡", " 😱", " 🙏", " !!", " 👀"]
TAGS = ["", " #Bradford", " #Manningham", " #BD8", " #share"]


def records(n: int, wave: bool, seed: int = 1) -> list[dict[str, object]]:
    """`n` fictional posts over two hours: 90% the wave's claim with small changes when
    `wave`, else everyday posts in seven places from 2,000 accounts."""
    rnd = random.Random(seed)
    start = datetime(2026, 11, 2, 18, tzinfo=UTC)
    out: list[dict[str, object]] = []
    for i in range(n):
        at = start + timedelta(seconds=rnd.uniform(0, 7200))
        if wave and rnd.random() < 0.9:
            text = CLAIM
            if rnd.random() < 0.5:
                text = f"@someone{rnd.randrange(300)} {text}"
            text += rnd.choice(EMOJI) + rnd.choice(TAGS)
            author = f"did:plc:fictionalwave{rnd.randrange(300)}"
        else:
            text = (
                f"(fictional {i}) {rnd.choice(TOPICS)} in {rnd.choice(PLACES)}, "
                f"{rnd.choice(TOPICS)} too, anyone know more? {rnd.randrange(10**6)}"
            )
            author = f"did:plc:fictional{rnd.randrange(2000)}"
        out.append(
            {
                "platform": "bluesky",
                "id": f"at://{author}/app.bsky.feed.post/wave{int(wave)}x{i}",
                "text": text,
                "created_at": at.isoformat(),
                "author": author,
                "synthetic": True,
            }
        )
    out.sort(key=lambda r: str(r["created_at"]))
    return out


async def child(root: Path, data: Path, store: Path, batch: int | None) -> dict[str, float]:
    """One `monitor import` of `data` with the code in `root` (run in its own process),
    `batch` posts a transaction (None: the setting's default)."""
    sys.path.insert(0, str(root))
    from monitor.classify.keyword import KeywordClassifier
    from monitor.config import Settings
    from monitor.ingest.importer import import_file
    from monitor.runtime.app import open_runtime

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{store}",
        classifier="keyword",
        home=str(root),
        retention_purge_minutes=0,
        rules_reload_seconds=0,
        **({"ingest_batch_size": batch} if batch else {}),
    )
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        t0, c0 = time.perf_counter(), time.process_time()
        await import_file(data, rt.pipeline, batch_size=settings.ingest_batch_size)
        await rt.pipeline.drain()
        return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


def measure(root: Path, data: Path, work: Path, batch: int | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        store = f"{tmp}/monitor.db"
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(root), str(data), store, str(batch or 0)],
            capture_output=True,
            text=True,
            check=True,
        )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=3000)
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref to compare against")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--batch",
        type=int,
        default=None,
        help="posts a transaction (default the ingest_batch_size setting, 500)",
    )
    ap.add_argument(
        "--child", nargs=4, metavar=("ROOT", "DATA", "STORE", "BATCH"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        root, data, store = (Path(a) for a in args.child[:3])
        batch = int(args.child[3]) or None
        print(json.dumps(asyncio.run(child(root, data, store, batch))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base_root = work / "baseline-checkout"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet"]
            + [str(base_root), args.baseline],
            check=True,
        )
        try:
            cases = {}
            for kind in ("varied", "wave"):
                cases[kind] = work / f"{kind}.jsonl"
                lines = (json.dumps(r) for r in records(args.posts, kind == "wave"))
                cases[kind].write_text("\n".join(lines) + "\n", encoding="utf-8")
            sides = {"baseline": base_root, "this checkout": ROOT}
            best: dict[tuple[str, str], dict[str, float]] = {}
            for _ in range(args.repeat):
                for kind, data in cases.items():
                    for side, root in sides.items():  # turn about, so load hits both alike
                        got = measure(root, data, work, args.batch)
                        key = (side, kind)
                        if key not in best or got["wall"] < best[key]["wall"]:
                            best[key] = got
            rev = subprocess.run(
                ["git", "-C", str(base_root), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
            ).stdout.strip()
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_root)],
                check=False,
            )
    n = args.posts
    batch = f"{args.batch} posts a batch" if args.batch else "the default batch size"
    print(f"\n{n} fictional posts each, {batch}, best of {args.repeat}")
    print(f"baseline {args.baseline} ({rev})")
    print("SQLite, keyword classifier, shipped rules, `monitor import` end to end\n")
    print("| side | varied posts/s | wave posts/s | wave / varied | wave CPU ms/post |")
    print("|---|---:|---:|---:|---:|")
    for side in sides:
        v, w = best[(side, "varied")], best[(side, "wave")]
        print(
            f"| {side} | {n / v['wall']:,.0f} | {n / w['wall']:,.0f} | "
            f"{v['wall'] / w['wall']:.2f} | {w['cpu'] / n * 1000:.2f} |"
        )
    for kind in cases:
        before, after = best[("baseline", kind)], best[("this checkout", kind)]
        print(
            f"{kind}: after / before {before['wall'] / after['wall']:.2f}x in posts/s, "
            f"{before['cpu'] / after['cpu']:.2f}x in CPU"
        )


if __name__ == "__main__":
    main()
