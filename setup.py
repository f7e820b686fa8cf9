"""Packaging hook: a built wheel carries copies of the data folders (models/, rules/,
alerts/) under monitor/data/home/, so a pip-installed copy runs its demo without a checkout.
Everything else is declared in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("models", "rules", "alerts")


class BuildWithDataFolders(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "monitor" / "data" / "home"
        for name in DATA_FOLDERS:
            source = root / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    target / name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )


setup(cmdclass={"build_py": BuildWithDataFolders})
