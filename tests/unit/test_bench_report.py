"""The benchmark's summary table for the top-level README (``bench.report``).

``make bench`` writes the whole report into ``bench/README.md`` and one table into
README.md; these tests build small results by hand (no benchmark runs) and check the
table, the marker replacement, and which kept run is picked up. ``bench`` is the
repository's benchmark package, importable from the repository root.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import load_report, report
from redis_docstore._ops.state import DEFAULT_EF_RUNTIME

ROOT = Path(__file__).parents[2]


def _queries(p50: float, recall: float) -> dict[str, dict[str, float]]:
    """p50 per filter: all = p50, large = 2x, mid = 3x, small = 4x."""
    return {
        f: {"p50_ms": p50 * (i + 1), "recall": recall}
        for i, f in enumerate(("all", "large", "mid", "small"))
    }


def _ingest(rate: float, bytes_per_doc: float) -> dict[str, Any]:
    return {"docs_per_s": rate, "memory": {"bytes_per_doc": bytes_per_doc}}


def _results(systems: tuple[str, ...] = ("raw", "store", "redisvl", "chroma")) -> dict[str, Any]:
    ingest = {
        "raw": _ingest(1500.0, 14283.0),
        "store": _ingest(1490.0, 14283.0),
        "redisvl": _ingest(1100.0, 14283.0),
        "redisvl_hash": _ingest(2200.0, 4708.0),
        "chroma": _ingest(970.0, 3326.0),
    }
    queries = {
        "raw": _queries(0.4, 0.872),
        "store": _queries(0.42, 0.878),
        "raw@store": _queries(0.4, 0.878),
        "redisvl": _queries(0.6, 0.872),
        "chroma": _queries(2.0, 1.0),
    }
    return {
        "meta": {
            "timestamp": "20260101T000000Z",
            "n": 100_000,
            "machine": {"cpu": "Some CPU", "usable_cores": 2},
        },
        "corpus": {"dims": 384},
        "ingest": {k: v for k, v in ingest.items() if k in systems or k == "redisvl_hash"},
        "queries": {k: v for k, v in queries.items() if k.removeprefix("raw@") in systems},
        "ef_sweep": {str(DEFAULT_EF_RUNTIME): _queries(1.1, 1.0)},
        "text": {
            "query": {
                "store_text_search": {"p50_ms": 13.97},
                "encode_then_raw_search": {"p50_ms": 13.75},
            }
        },
        "notes": [],
    }


def _load() -> dict[str, Any]:
    def rounds(p50: list[float], ops: list[float]) -> dict[str, Any]:
        return {"1": {"p50_ms": p50}, "16": {"ops_per_s": ops}}

    return {
        "meta": {"timestamp": "20260101T010000Z"},
        "rounds": {
            "store": rounds([16.2, 16.8, 16.9], [190.0, 173.0, 188.6]),
            "by_hand": rounds([19.8, 16.3, 18.2], [64.0, 51.0, 56.4]),
            "redisvl": rounds([15.8, 16.5, 16.6], [59.4, 58.6, 54.0]),
        },
    }


def _row(markdown: str, starts: str) -> list[str]:
    [line] = [line for line in markdown.splitlines() if line.startswith(f"| {starts}")]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_summary_has_one_table_with_the_four_columns() -> None:
    text = report.summary_markdown(_results(), _load())
    tables = [line for line in text.splitlines() if line.startswith("| --- ")]
    assert len(tables) == 1
    assert _row(text, " |")[1:] == ["this store", "raw redis-py", "RedisVL", "Chroma"]
    assert "100,000 documents x 384 dims" in text
    assert "run 20260101T000000Z, load run 20260101T010000Z" in text


def test_summary_rows_come_from_the_results() -> None:
    text = report.summary_markdown(_results(), _load())
    ef = DEFAULT_EF_RUNTIME
    assert _row(text, "ingest")[1:] == ["1,490", "1,500", "1,100", "970"]
    assert _row(text, "vector search p50 ms, unfiltered")[1:] == [
        f"0.42 (1.10 at EF {ef})",
        "0.40",
        "0.60",
        "2.00",
    ]
    assert _row(text, "vector search p50 ms, one genre")[1:] == [
        "0.84 / 1.26 / 1.68",
        "0.80 / 1.20 / 1.60",
        "1.20 / 1.80 / 2.40",
        "4.00 / 6.00 / 8.00",
    ]
    assert _row(text, "memory")[1:] == ["14,283", "14,283", "14,283", "3,326 (RSS)"]
    assert _row(text, "recall")[1:] == [f"0.878 (1.000 at EF {ef})", "0.872", "0.872", "1.000"]
    # On its own server the store is 1.05x raw's same query, for every filter.
    assert "store's vector search p50 is 1.05-1.05x raw" in text
    assert "2,200 docs/s, 4,708 bytes per document" in text


def test_text_rows_are_the_medians_of_the_load_rounds() -> None:
    text = report.summary_markdown(_results(), _load())
    assert _row(text, "text search p50")[1:] == ["16.8", "18.2", "16.5", "-"]
    assert _row(text, "text searches/s, 16 threads")[1:] == ["189", "56", "59", "-"]
    # The same figures the load benchmark's targets are judged on.
    assert load_report._judged(_load(), "store", 16, "ops_per_s") == 188.6


def test_without_a_load_run_text_search_comes_from_the_run_itself() -> None:
    text = report.summary_markdown(_results())
    assert _row(text, "text search p50")[1:] == ["14.0", "13.8", "-", "-"]
    assert "16 threads" not in text
    assert "load run" not in text


def test_systems_a_run_left_out_show_a_dash() -> None:
    text = report.summary_markdown(_results(("raw", "store")))
    assert _row(text, "ingest")[1:] == ["1,490", "1,500", "-", "-"]
    assert _row(text, "vector search p50 ms, one genre")[3:] == ["-", "-"]
    assert _row(text, "memory")[3:] == ["-", "-"]


def test_update_summary_replaces_only_the_text_between_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\n<!-- bench-summary:begin -->\nold table\n<!-- bench-summary:end -->\n\n"
        "<!-- bench:begin -->\nkept\n<!-- bench:end -->\n"
    )
    report.update_summary(readme, _results(), _load())
    text = readme.read_text()
    assert "old table" not in text
    assert text.startswith("# Title\n\n<!-- bench-summary:begin -->\n100,000 documents")
    assert text.endswith(
        "<!-- bench-summary:end -->\n\n<!-- bench:begin -->\nkept\n<!-- bench:end -->\n"
    )
    assert text.count("| this store |") == 1


def test_markers_quoted_in_prose_are_not_taken_for_the_real_ones(tmp_path: Path) -> None:
    """bench/README.md names its markers in its method text, inline."""
    readme = tmp_path / "README.md"
    prose = (
        "`--readme` replaces the text between `<!-- bench:begin -->` and `<!-- bench:end -->`.\n"
    )
    readme.write_text(f"{prose}\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n")
    assert report.update_readme(readme, "new")
    assert readme.read_text() == f"{prose}\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\n"
    only_quoted = tmp_path / "quoted.md"
    only_quoted.write_text(prose)
    assert not report.update_readme(only_quoted, "new")
    assert only_quoted.read_text() == prose


def test_update_summary_leaves_a_file_without_markers_alone(tmp_path: Path, capsys: Any) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    report.update_summary(readme, _results(), None)
    assert readme.read_text() == "# Title\n"
    assert "no <!-- bench-summary:begin -->" in capsys.readouterr().out


def test_newest_picks_the_newest_full_run(tmp_path: Path) -> None:
    for name in (
        "20260101T000000Z-n100000.json",
        "20260102T000000Z-n100000.json",
        "20260103T000000Z-n100000-scale.json",
        "20260104T000000Z-n100000-raw-store.json",
        "load-20260101T000000Z-n100000.json",
        "load-20260105T000000Z-n100000-soak.json",
    ):
        (tmp_path / name).write_text(json.dumps({"name": name}))
    assert report.newest(tmp_path) == {"name": "20260102T000000Z-n100000.json"}
    assert report.newest(tmp_path, load=True) == {"name": "load-20260101T000000Z-n100000.json"}
    assert report.newest(tmp_path / "missing") is None


def test_links_are_relative_to_the_file_that_holds_them(tmp_path: Path) -> None:
    out = tmp_path / "bench" / "results"
    assert report.relative(out / "load.png", tmp_path / "bench") == "results/load.png"
    assert report.relative(out / "load.png", tmp_path) == "bench/results/load.png"


def test_the_reports_import_without_the_bench_extra() -> None:
    """chromadb and matplotlib (the ``bench`` extra) are not needed to write the tables."""
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('chromadb', 'matplotlib'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from bench import load_report, report\n"
        "print(report.summary_markdown.__name__, load_report.readme_summary.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["summary_markdown", "readme_summary"]
