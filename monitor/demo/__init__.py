"""The bundled demo: a fictional, deterministic week of posts across Bradford district.

`monitor.demo.scenario` generates it (ordinary chatter, a false rumour that spreads and is
countered, a tension episode that calms down) with a ground-truth file, so every stage can be
shown and scored on the same data without a network. Nothing in it is a real post or person.
"""
