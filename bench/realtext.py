"""Real mixed-length English text, built offline and deterministically.

About 1,000 paragraphs of plain prose (1-5 sentences) from the project's
fixture library, the Python reference docs, stdlib docstrings, and installed
packages' READMEs and licences, plus ~200 queries (first sentences of other
paragraphs). Used by the embedding study and by the text-ingest benchmark;
importing it changes nothing (no thread or logging settings).
"""

from __future__ import annotations

import ast
import itertools
import json
import random
import re
import sysconfig
from collections.abc import Iterator
from pathlib import Path

__all__ = ["build_corpus", "prose", "sources"]

ROOT = Path(__file__).resolve().parents[1]

SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
NOT_PROSE = set("`{}[]<>=_\\|@#$*~^")


def prose(text: str) -> Iterator[str]:
    """Paragraphs of plain prose (1-5 sentences, no code, markup or lists)."""
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.strip().splitlines()]
        if not lines or any(
            line.startswith((">>>", "...", "-", "+", ":", "..")) for line in lines
        ):
            continue
        p = " ".join(lines)
        if not 60 <= len(p) <= 900 or not p[0].isupper() or not p.endswith("."):
            continue
        if any(c in NOT_PROSE for c in p) or "http" in p or "()" in p or len(p.split()) < 10:
            continue
        if (
            sum(c.isalpha() or c == " " for c in p) >= 0.93 * len(p)
            and len(SENTENCE.split(p)) <= 5
        ):
            yield p


def sources() -> dict[str, list[str]]:
    from pydoc_data.topics import topics

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"test", "idlelib", "lib2to3", "site-packages", "tkinter", "turtledemo", "ensurepip"}
    docstrings: list[str] = []
    for f in sorted(stdlib.rglob("*.py")):
        if skip & set(f.relative_to(stdlib).parts):
            continue
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(
                node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
            ):
                docstrings += prose(ast.get_docstring(node) or "")
    site = sorted(ROOT.glob(".venv/lib/python3*/site-packages"))[0]
    readmes: list[str] = []
    for f in sorted(site.glob("*.dist-info/METADATA")):
        readmes += prose(f.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[-1])
    licences: list[str] = []
    for f in sorted(site.glob("*.dist-info/**/LICEN[CS]E*")):
        if f.is_file():
            licences += prose(f.read_text(encoding="utf-8", errors="replace"))
    pools = {
        "python-docs": [p for t in sorted(topics) for p in prose(topics[t])],
        "stdlib-docstrings": docstrings,
        "package-readmes": readmes,
        "licences": licences,
    }
    return {k: list(dict.fromkeys(v)) for k, v in pools.items()}


def build_corpus() -> tuple[list[str], list[str], dict[str, int]]:
    """~1,000 corpus texts and ~200 queries, deterministic for a given .venv."""
    library = [
        json.loads(line)["content"]
        for line in (ROOT / "fixtures/library.jsonl").read_text().splitlines()
    ]
    quotas = {
        "python-docs": 200,
        "stdlib-docstrings": 300,
        "package-readmes": 100,
        "licences": 100,
    }
    rng = random.Random(0)
    corpus, candidates, counts = list(library), [], {"library": len(library)}
    for name, pool in sources().items():
        rng.shuffle(pool)
        multi = [p for p in pool if len(SENTENCE.split(p)) >= 2]
        single = [p for p in pool if len(SENTENCE.split(p)) == 1]
        n_multi = min(len(multi), int(quotas[name] * 0.7))
        chosen = multi[:n_multi] + single[: quotas[name] - n_multi]
        corpus += chosen
        counts[name] = len(chosen)
        taken = set(chosen)
        firsts = (SENTENCE.split(p)[0] for p in pool if p not in taken)
        candidates.append([s for s in firsts if 4 <= len(s.split()) <= 20])
    # Round robin over the sources so that each gives about a quarter of the queries.
    queries = [q for group in itertools.zip_longest(*candidates) for q in group if q]
    return corpus, list(dict.fromkeys(queries))[:200], counts
