"""The README's layout table and layer list match the tree and the import-linter contract: every
folder of the repository and every package of `monitor/` has a row, every row names a folder
that exists, the `monitor/` row names each loose module, and the layers listed are those
`lint-imports` enforces, in the same order."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"### {title}\n")
    end = README.index("\n### ", start + 1)
    return README[start:end]


def _rows() -> dict[str, str]:
    rows = {}
    for line in _section("Layout").splitlines():
        found = re.match(r"^\| `([^`]+)/` \| (.*) \|$", line)
        if found:
            rows[found.group(1)] = found.group(2)
    return rows


def _tracked_folders() -> set[str] | None:
    """Top-level folders and `monitor/` packages holding files git tracks or would track
    (untracked but not ignored), or None outside a git checkout (a source archive: every
    folder counts)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folders: set[str] = set()
    for path in out.splitlines():
        parts = path.split("/")
        if len(parts) > 1:
            folders.add(parts[0])
        if len(parts) > 2 and parts[0] == "monitor":
            folders.add(f"monitor/{parts[1]}")
    return folders


def test_every_folder_has_a_row_and_every_row_a_folder() -> None:
    rows = _rows()
    tracked = _tracked_folders()
    # Folders of the checkout; build output, editable-install metadata and what git ignores
    # (`var/`, which the demo writes its store into) are not the tree.
    top = {
        p.name
        for p in ROOT.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and p.name not in {"build", "dist", "__pycache__"}
        and not p.name.endswith(".egg-info")
        and (tracked is None or p.name in tracked)
    }
    packages = {
        f"monitor/{p.name}"
        for p in (ROOT / "monitor").iterdir()
        if p.is_dir()
        and p.name != "__pycache__"
        and (tracked is None or f"monitor/{p.name}" in tracked)
    }
    assert sorted((top | packages) - set(rows)) == [], "folders missing from README Layout"
    assert sorted(name for name in rows if not (ROOT / name).is_dir()) == [], (
        "README Layout names folders that do not exist"
    )


def test_the_monitor_row_names_each_loose_module() -> None:
    row = _rows()["monitor"]
    loose = sorted(p.name for p in (ROOT / "monitor").glob("*.py") if p.name != "__init__.py")
    assert [name for name in loose if f"`{name}`" not in row] == []
    named = re.findall(r"`([\w]+\.py)`", row)
    assert [name for name in named if not (ROOT / "monitor" / name).is_file()] == []


def test_the_layers_listed_are_the_ones_lint_imports_enforces() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if c.get("id") == "layers"
    ]
    enforced = [name for layer in contract["layers"] for name in re.split(r"\s*\|\s*", layer)]
    listed = [
        name
        for line in _section("Layers").splitlines()
        if re.match(r"^\d+\. ", line)
        for name in re.findall(r"`(\w+)`", line.split("(")[0])
    ]
    assert listed == enforced
