"""Pure: the digest's levels grid as a PNG bar chart for e-mail (inline, by Content-ID).

Mail clients block SVG and data: URIs, but show an inline PNG attached as a related part, so
the e-mail carries this picture of flagged posts over the period, each bar coloured by the
highest level alerted then. Only counts are drawn: no post text, no accounts.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from monitor.alerts.render import LEVEL_COLOURS

CID = "levels-chart@monitor"  # the HTML e-mail shows it as <img src="cid:levels-chart@monitor">
RANK = {"": 0, "normal": 1, "elevated": 2, "high": 3, "critical": 4}


def series(grid: Mapping[str, Any]) -> list[tuple[str, int, str]]:
    """Per time bucket: (label, flagged posts over all places, highest level alerted)."""
    out = []
    for i, label in enumerate(grid.get("buckets") or []):
        cells = [row["cells"][i] for row in grid.get("rows") or [] if i < len(row["cells"])]
        count = sum(int(c.get("count") or 0) for c in cells)
        level = max(
            (str(c.get("level") or "") for c in cells), key=lambda x: RANK.get(x, 0), default=""
        )
        out.append((str(label), count, level))
    return out


def levels_png(grid: Mapping[str, Any] | None, title: str = "Flagged posts") -> bytes | None:
    """The chart as PNG bytes, or None when there is nothing to draw."""
    points = series(grid or {})
    if not points or not any(count for _, count, _ in points):
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display: drawn to memory
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 2.6), dpi=100)
    ax = fig.add_subplot()
    labels = [label for label, _, _ in points]
    counts = [count for _, count, _ in points]
    colours = [LEVEL_COLOURS.get(level or "normal", LEVEL_COLOURS[""]) for _, _, level in points]
    ax.bar(range(len(points)), counts, color=colours, edgecolor="#333333", linewidth=0.6)
    ax.set_xticks(range(len(points)), labels, fontsize=8)
    ax.set_ylabel("flagged posts", fontsize=8)
    ax.set_title(f"{title} (colour: highest level alerted)", fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    # No software or date metadata: the same digest gives the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
