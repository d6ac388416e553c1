"""Print the lowest allowed version of each runtime dependency, as ``name==version``.

    pip install $(python .ci/floors.py)

Reads ``[project] dependencies`` of pyproject.toml: every one must name its floor
(``>=``); that floor is what ``make test-floors`` installs and tests, so a floor that
does not work fails CI instead of a user's install.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def floors(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """``name==floor`` for every runtime dependency."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pins = []
    for spec in dependencies:
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*.*?>=\s*([^,;\s]+)", spec)
        if match is None:
            raise SystemExit(f"pyproject.toml: {spec!r} names no floor (>=)")
        pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


if __name__ == "__main__":
    print(" ".join(floors()))
    sys.exit(0)
