"""The bundled demo: a fictional, deterministic week of posts across Bradford district.

`monitor.demo.scenario` generates it (ordinary chatter, a false rumour that spreads and is
countered, a tension episode that calms down) with a ground-truth file, so every stage can be
shown and scored on the same data without a network. Nothing in it is a real post or person.
"""

from pathlib import Path

# The bundled week (`monitor demo` replays it; tests and benchmarks read it).
BUNDLED_SCENARIO = Path(__file__).parent.parent / "data" / "demo" / "bradford-scenario.jsonl"
