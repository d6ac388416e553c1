"""The load benchmark's results out: JSON, ``load.md`` (or ``soak.md``), ``load.png``, README.

The markdown leads with what made the numbers, then the targets (PASS / FAIL with the
measured ratio), the concurrency sweep per operation (ops/s, p50 and p99 latency, server and
client CPU), the mixed load, HTTP, and the newest soak found in the folder.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import report
from redis_docstore._ops.state import DEFAULT_EF_RUNTIME

__all__ = ["Paths", "markdown", "soak_markdown", "targets", "update_readme", "write"]

README_BEGIN = "<!-- bench-load:begin -->"
README_END = "<!-- bench-load:end -->"
AT = 16  # the concurrency the targets are judged at
SPEEDUP = 4.0
P99_RATIO = 1.5
FLAT = 0.10
MB = 1024 * 1024
OP_TITLES = {
    "text": "text search (`search(text, k=10, genre=g)`: embed + KNN)",
    "vector_np": "vector search, numpy float32 query",
    "vector_list": "vector search, Python list query (`vector.tolist()`)",
}
# Each store is compared with its own kind of caller: threads with threads, asyncio with asyncio.
PAIRS = (("store", "by_hand", "redisvl"), ("store_async", "by_hand_async", "redisvl_async"))
MODES = {
    "with_writers": "paced",
    "with_writers_flat_out": "flat out",
    "without_writers": "none",
}


@dataclass
class Paths:
    """What :func:`write` wrote."""

    json: Path
    markdown: Path
    plots: list[Path] = field(default_factory=list)

    def all(self) -> list[Path]:
        """Every file written."""
        return [self.json, self.markdown, *self.plots]


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _cell(results: dict[str, Any], op: str, system: str, callers: int) -> dict[str, Any] | None:
    cell: dict[str, Any] | None = (
        results.get("sweep", {}).get(op, {}).get(system, {}).get(str(callers))
    )
    return cell


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# -- targets ----------------------------------------------------------------------------


def _judged(results: dict[str, Any], system: str, callers: int, stat: str) -> float | None:
    """A text-search figure the targets use: the median over rounds, else the sweep's cell."""
    values = results.get("rounds", {}).get(system, {}).get(str(callers), {}).get(stat)
    present = [v for v in values or [] if v is not None]
    if present:
        return float(statistics.median(present))
    cell = _cell(results, "text", system, callers)
    return None if cell is None else cell.get(stat)


def _sweep_targets(results: dict[str, Any]) -> Iterator[dict[str, Any]]:
    judged: dict[str, Any] = results.get("rounds", {}).get("store", {}).get(str(AT), {})
    rounds = len(judged.get("ops_per_s", []))
    how = f" (medians of {rounds} rounds)" if rounds > 1 else ""
    for store, by_hand, redisvl in PAIRS:
        ops = _judged(results, store, AT, "ops_per_s")
        if ops is None:
            continue
        rows = [
            (f"{store}: text search ops/s, {AT} callers vs 1 caller", store, 1),
            (f"{store} vs {by_hand}: text search ops/s at {AT} callers", by_hand, AT),
            (f"{store} vs {redisvl}: text search ops/s at {AT} callers", redisvl, AT),
        ]
        for what, system, callers in rows:
            base = _judged(results, system, callers, "ops_per_s")
            if base is not None:
                ratio = _ratio(ops, base)
                ok = ratio is not None and ratio >= SPEEDUP
                yield _target(f"{what} >= {SPEEDUP:g}x{how}", ratio, ok)
        ratio = _ratio(_judged(results, store, AT, "p50_ms"), _judged(results, store, 1, "p50_ms"))
        yield _target(
            f"{store}: text search p50 at {AT} callers / at 1 (reported){how}", ratio, None
        )


def _mixed_targets(results: dict[str, Any]) -> Iterator[dict[str, Any]]:
    rate = results["meta"]["config"].get("write_rate")
    for store in ("store", "store_async"):
        pair = results.get("mixed", {}).get(store)
        if pair is None:
            continue
        for kind, ratio in pair["p99_ratio"].items():
            ok = ratio is not None and ratio <= P99_RATIO
            yield _target(
                f"{store}: {kind} p99 with writers ({rate:g} adds/s each) / without "
                f"<= {P99_RATIO:g}x",
                ratio,
                ok,
            )
        for kind, ratio in pair.get("p99_ratio_flat_out", {}).items():
            yield _target(
                f"{store}: {kind} p99 with writers flat out / without (reported)", ratio, None
            )
        errors = sum(pair[mode]["errors"] for mode in MODES if mode in pair)
        yield _target(f"{store}: mixed-load errors = 0", float(errors), errors == 0, "count")


def _vector_targets(results: dict[str, Any]) -> Iterator[dict[str, Any]]:
    vectors = results.get("vectors")
    if not vectors:
        return
    us = vectors["validate"]["list_us"]
    yield _target(
        f"validating a {vectors['validate']['dims']}-float Python list <= 20 us",
        us,
        us <= 20,
        "us",
    )
    bulk = vectors["bulk_add"]
    yield _target(
        f"store.add of {bulk['bulk']:,} documents with list embeddings vs raw pipelined "
        f"JSON.SET at {bulk['base']:,} documents >= 1.0x",
        bulk["ratio"],
        bulk["ratio"] >= 1.0,
    )


def _target(what: str, value: float | None, met: bool | None, unit: str = "x") -> dict[str, Any]:
    return {"target": what, "measured": value, "unit": unit, "met": met}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with its measured value and PASS (True), FAIL (False) or info (None)."""
    found = [*_sweep_targets(results), *_mixed_targets(results), *_vector_targets(results)]
    sweep_errors = sum(
        cell["errors"]
        for systems in results.get("sweep", {}).values()
        for cells in systems.values()
        for cell in cells.values()
    )
    if "sweep" in results:
        found.append(
            _target("sweep: errors = 0 (every system)", float(sweep_errors), sweep_errors == 0,
                    "count")
        )  # fmt: skip
    http = results.get("http", {})
    if "errors" in http:
        found.append(_target("HTTP: errors = 0", float(http["errors"]), http["errors"] == 0,
                             "count"))  # fmt: skip
    return found


def _target_rows(found: Sequence[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for t in found:
        value = t["measured"]
        unit = t["unit"]
        if unit == "x":
            shown = _fmt(value, 2) + "x"
        elif unit == "us":
            shown = _fmt(value, 1) + " us"
        else:
            shown = _fmt(value, 0)
        status = {True: "PASS", False: "FAIL", None: "info"}[t["met"]]
        rows.append([t["target"], shown, status])
    return rows


# -- sections ---------------------------------------------------------------------------


def _header(results: dict[str, Any]) -> list[str]:
    meta = results["meta"]
    machine, cfg = meta["machine"], meta["config"]
    git = meta.get("git", {})
    dirty = " (src/ modified)" if git.get("src_dirty") else ""
    load = machine.get("loadavg_start", [0])[0], machine.get("loadavg_end", [0])[0]
    setup = results.get("setup", {})
    return [
        f"Run {meta['timestamp']} ({'quick' if meta['quick'] else 'full'}), "
        f"{meta.get('duration_s', 0) / 60:.1f} min; commit {git.get('commit', '?')}{dirty}; "
        f"{machine['cpu']}, {machine['usable_cores']} cores, {machine['ram_gib']} GiB; "
        f"load average {load[0]:.2f} at the start, {load[1]:.2f} at the end.",
        "",
        f"One embedded Redis Stack, one index of {meta['n']:,} documents (ingested at "
        f"{_fmt(setup.get('ingest_docs_per_s'), 0)} docs/s); every system on that server "
        "and index. "
        + (
            ""
            if "soak" in results
            else f"Sweep cells: {cfg['warmup']:g} s warm-up, {cfg['cell_seconds']:g} s "
            f"recorded; mixed load: {cfg['searchers']} searchers + {cfg['writers']} writers "
            f"({cfg.get('write_rate', 0):g} adds/s each, then flat out), "
            f"{cfg['mixed_seconds']:g} s per cell. "
        )
        + "Latencies in ms; CPU in % of one core.",
    ]


def _sweep_tables(results: dict[str, Any], op: str) -> list[str]:
    systems = results["sweep"][op]
    levels = sorted({int(c) for cells in systems.values() for c in cells})
    header = ["system", *(str(c) for c in levels)]

    def rows(show: Any) -> list[list[str]]:
        return [
            [name, *(show(cells.get(str(c))) if cells.get(str(c)) else "-" for c in levels)]
            for name, cells in systems.items()
        ]

    lines = [f"### {OP_TITLES.get(op, op)}", "", "ops/s by callers:", ""]
    lines += _table(header, rows(lambda c: _fmt(c["ops_per_s"])))
    lines += ["", "p50 / p99 latency (ms) by callers:", ""]
    lines += _table(
        header, rows(lambda c: f"{_fmt(c.get('p50_ms'), 2)} / {_fmt(c.get('p99_ms'), 2)}")
    )
    lines += ["", "Redis server CPU / this process's CPU (% of one core) by callers:", ""]
    lines += _table(
        header,
        rows(lambda c: f"{_fmt(c.get('server_cpu_pct'), 0)} / "
                       f"{_fmt(c.get('client_cpu_pct'), 0)}"),
    )  # fmt: skip
    return [*lines, ""]


def _problems(results: dict[str, Any]) -> list[str]:
    """Cells with errors or short results, listed (none is the expected outcome)."""
    lines = []
    for op, systems in results.get("sweep", {}).items():
        for name, cells in systems.items():
            for callers, cell in cells.items():
                short = sum(cell.get("short_results", {}).values())
                if cell["errors"] or short:
                    lines.append(
                        f"* {op} / {name} / {callers} callers: {cell['errors']} errors, "
                        f"{short} searches with fewer than 10 hits; {cell['error_samples'][:2]}"
                    )
    return lines


def _kind_row(
    name: str, mode: str, kind: str, stats: dict[str, Any], cell: dict[str, Any]
) -> list[str]:
    return [
        name, mode, kind, _fmt(stats.get("ops_per_s")), _fmt(stats.get("p50_ms"), 2),
        _fmt(stats.get("p95_ms"), 2), _fmt(stats.get("p99_ms"), 2),
        str(cell["errors_by_kind"].get(kind, 0)), _fmt(cell.get("server_cpu_pct"), 0),
    ]  # fmt: skip


def _mixed_section(mixed: dict[str, Any]) -> list[str]:
    header = ["system", "writers", "operation", "ops/s", "p50", "p95", "p99", "errors",
              "server CPU %"]  # fmt: skip
    rows, ratios = [], []
    for name, pair in mixed.items():
        for mode, shown in MODES.items():
            cell = pair.get(mode)
            for kind, stats in (cell or {}).get("kinds", {}).items():
                rows.append(_kind_row(name, shown, kind, stats, cell))
        for key, writers in (("p99_ratio", "paced"), ("p99_ratio_flat_out", "flat out")):
            if key in pair:
                ratios.append([name, writers, *(_fmt(r, 2) for r in pair[key].values())])
    kinds = next(iter(mixed.values()))["p99_ratio"] if mixed else {}
    lines = ["## Mixed load: searches while the index grows", ""]
    lines += _table(header, rows)
    lines += ["", "Search p99 with writers / without:", ""]
    lines += _table(["system", "writers", *kinds], ratios)
    samples = [s for pair in mixed.values() for m in MODES if m in pair
               for s in pair[m]["error_samples"]]  # fmt: skip
    if samples:
        lines += ["", "First errors:", "", *(f"* `{s}`" for s in samples[:10])]
    return [*lines, ""]


def _http_section(http: dict[str, Any]) -> list[str]:
    lines = ["## HTTP: the FastAPI example under load", ""]
    if "skipped" in http:
        return [*lines, f"Skipped: {http['skipped']}.", ""]
    lines.append(
        f"`examples/service.py` under uvicorn (1 worker, its own AsyncDocumentStore), "
        f"{http['callers']} concurrent `httpx.AsyncClient` callers for {http['seconds']:g} s "
        f"(unique query texts, genre classes in turn; one operation in {http['post_every']} "
        f"a POST); healthy {http['startup_s']:.1f} s after start."
    )
    lines.append("")
    header = ["request", "ops/s", "p50", "p95", "p99", "errors"]
    rows = [
        [kind, _fmt(s.get("ops_per_s")), _fmt(s.get("p50_ms"), 2), _fmt(s.get("p95_ms"), 2),
         _fmt(s.get("p99_ms"), 2), str(http["errors_by_kind"].get(kind, 0))]
        for kind, s in http["kinds"].items()
    ]  # fmt: skip
    lines += _table(header, rows)
    lines += [
        "",
        f"CPU: service {_fmt(http.get('service_cpu_pct'), 0)} %, Redis server "
        f"{_fmt(http.get('server_cpu_pct'), 0)} %, this process (the callers) "
        f"{_fmt(http.get('client_cpu_pct'), 0)} %.",
    ]
    if http["error_samples"]:
        lines += ["", "First errors:", "", *(f"* `{s}`" for s in http["error_samples"])]
    return [*lines, ""]


def _per_key(sample: dict[str, Any]) -> float:
    return float(sample["server_used_memory_bytes"]) / max(1, int(sample["keys"]))


# (what, value of a sample, judged flat within FLAT?)
SOAK_METRICS: tuple[tuple[str, Any, bool], ...] = (
    ("client RSS (MB)", lambda s: s["client_rss_bytes"] / MB, True),
    ("server connected_clients", lambda s: float(s["connected_clients"]), True),
    ("server used_memory per key (bytes)", _per_key, True),
    ("server used_memory_rss (MB)", lambda s: s["server_rss_bytes"] / MB, False),
    ("keys (documents + the store's meta hash)", lambda s: float(s["keys"]), False),
)


def soak_phase(samples: Sequence[dict[str, Any]], phase: str) -> dict[str, Any]:
    """A phase's start (its first periodic sample) and end, and each metric's change."""
    mine = [s for s in samples if s["phase"] == phase]
    periodic = [s for s in mine if not s["edge"]]
    start, end = (periodic[0] if periodic else mine[0]), mine[-1]
    metrics = {}
    for what, get, judged in SOAK_METRICS:
        a, b = get(start), get(end)
        change = (b - a) / a if a else None
        flat = change is not None and abs(change) <= FLAT
        metrics[what] = {"start": a, "end": b, "change": change, "flat": flat if judged else None}
    return {"start_t_s": start["t_s"], "end_t_s": end["t_s"], "metrics": metrics}


def _soak_rows(soak: dict[str, Any]) -> list[list[str]]:
    rows = []
    for phase in soak["phases"]:
        judged = soak_phase(soak["samples"], phase)
        span = f"{judged['start_t_s']:.0f}-{judged['end_t_s']:.0f} s"
        for what, m in judged["metrics"].items():
            status = {True: "PASS", False: "FAIL", None: "info"}[m["flat"]]
            change = f"{m['change']:+.1%}" if m["change"] is not None else "-"
            rows.append([phase, span, what, _fmt(m["start"]), _fmt(m["end"]), change, status])
    return rows


def soak_markdown(soak: dict[str, Any], stamp: str) -> list[str]:
    """The soak section: each phase's start vs end, errors, the acknowledged-add check."""
    verify = soak["verify"]
    errors = sum(p["errors"] for p in soak["phases"].values())
    phase_rows = [
        [name, kind, _fmt(k.get("ops_per_s")), _fmt(k.get("p50_ms"), 2),
         _fmt(k.get("p99_ms"), 2), str(cell["errors_by_kind"].get(kind, 0))]
        for name, cell in soak["phases"].items()
        for kind, k in cell["kinds"].items()
    ]  # fmt: skip
    header = ["phase", "samples", "metric", "start", "end", "change", f"flat within {FLAT:.0%}"]
    lines = [
        f"## Soak ({stamp}): {soak['seconds']:g} s of mixed load on the store",
        "",
        f"{soak['searchers']} searchers + {soak['writers']} writers; the sync store with "
        "threads for the first half, then the async store with asyncio tasks. A sample every "
        f"{soak['sample_every_s']:g} s; each phase is judged from its first periodic sample to "
        "its end (the sync store keeps its connections open after its phase). The server's RSS "
        "grows with the documents the writers add; its memory per key is what must stay flat.",
        "",
        *_table(header, _soak_rows(soak)),
        "",
        *_table(["phase", "operation", "ops/s", "p50", "p99", "errors"], phase_rows),
        "",
        f"Errors: {errors} ({'PASS' if errors == 0 else 'FAIL'}). Acknowledged adds checked: "
        f"{verify['checked']:,}, missing {verify['missing']} "
        f"({'PASS' if verify['missing'] == 0 else 'FAIL'}); the index holds "
        f"{verify['indexed_documents']:,} documents (at least {verify['expected_at_least']:,} "
        "expected).",
    ]
    samples = [s for cell in soak["phases"].values() for s in cell["error_samples"]]
    if samples:
        lines += ["", "First errors:", "", *(f"* `{s}`" for s in samples[:10])]
    if verify["missing_keys"]:
        lines += ["", "Missing: " + ", ".join(f"`{k}`" for k in verify["missing_keys"][:20])]
    return [*lines, ""]


def _vectors_section(vectors: dict[str, Any]) -> list[str]:
    check, bulk = vectors["validate"], vectors["bulk_add"]
    return [
        "## Vectors as Python lists",
        "",
        f"Checking one {check['dims']}-float embedding (`validate_vector`, best of 25 runs): "
        f"a Python list {check['list_us']:.1f} us, a float32 numpy row "
        f"{check['float32_us']:.1f} us.",
        "",
        f"`store.add` of {bulk['bulk']:,} documents whose embeddings are Python lists, "
        f"against raw redis-py writing the same documents as one pipeline of `JSON.SET` "
        f"(orjson, the list as it is), on one server holding {bulk['base']:,} documents, "
        f"{bulk['pairs']} pairs of calls alternating: store {bulk['store_docs_per_s']:,.0f} "
        f"docs/s, raw {bulk['raw_docs_per_s']:,.0f} docs/s (medians): "
        f"**{bulk['ratio']:.2f}x** (per pair {bulk['pair_ratio_min']:.2f}-"
        f"{bulk['pair_ratio_max']:.2f}, geometric mean {bulk['pair_ratio_geomean']:.2f}).",
        "",
    ]


def _newest_soak(out: Path) -> tuple[dict[str, Any], str] | None:
    found = sorted(out.glob("load-*-soak.json"))
    if not found:
        return None
    data = json.loads(found[-1].read_text())
    return data["soak"], data["meta"]["timestamp"]


METHOD = (
    "Every system shares one server and one index; each cell runs one system with R "
    "callers (threads, or asyncio tasks on one event loop) that call it back to back; an "
    "operation counts if it completes in the recorded window, and its latency is timed "
    "around the one call the application makes. Cells of the systems are interleaved, "
    "the order rotating every round.",
    "Query texts are never repeated within a run (no embedding cache hits); vector queries "
    "are fresh samples near the corpus's topics; each search kind takes the genre classes "
    "all / large / mid / small in turn.",
    "by_hand = `model.encode([q])` (sentence-transformers) + raw `FT.SEARCH` with redis-py "
    f"(EF_RUNTIME {DEFAULT_EF_RUNTIME}, as the store sends); redisvl = `HFTextVectorizer` + "
    f"`SearchIndex.query(VectorQuery(..., ef_runtime={DEFAULT_EF_RUNTIME}))`; their async "
    "variants embed in `asyncio.to_thread`.",
    "Writers add one document per call, ids `load-<system>-<n>`; half send text only (the "
    "system embeds it), half a precomputed vector as a Python list. Written documents are "
    "deleted at the end by their exact keys.",
)


def markdown(results: dict[str, Any], out: Path) -> str:
    """The report: header, targets, sweep, mixed load, HTTP, the newest soak."""
    lines = ["# Load benchmark (`make bench-load`)", "", *_header(results), ""]
    lines += ["## Targets", ""]
    lines += _table(["target", "measured", "status"], _target_rows(results["targets"]))
    lines.append("")
    if "sweep" in results:
        lines += ["## Concurrency sweep: callers sharing one store", ""]
        for op in results["sweep"]:
            lines += _sweep_tables(results, op)
        problems = _problems(results)
        lines += ["Errors and short results in the sweep: " + ("none." if not problems else ""),
                  *problems, ""]  # fmt: skip
    if "mixed" in results:
        lines += _mixed_section(results["mixed"])
    if "http" in results:
        lines += _http_section(results["http"])
    if results.get("vectors"):
        lines += _vectors_section(results["vectors"])
    newest = _newest_soak(out)
    if newest is not None:
        lines += soak_markdown(*newest)
    if results["notes"]:
        lines += ["## Notes", "", *(f"* {note}" for note in results["notes"]), ""]
    lines += ["## Method", "", *(f"* {m}" for m in METHOD), ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], out: Path) -> Path | None:
    """Text search ops/s and p50 against callers, one line per system (log x)."""
    sweep = results.get("sweep", {}).get("text")
    if not sweep:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(1, 2, figsize=(12, 4.5))
    levels: list[int] = []
    for name, cells in sweep.items():
        levels = sorted({*levels, *(int(c) for c in cells)})
        mine = sorted(int(c) for c in cells)
        style = {"marker": "o", "label": name, "linewidth": 2.5 if "store" in name else 1.2}
        top.plot(mine, [cells[str(c)]["ops_per_s"] for c in mine], **style)
        p50 = [cells[str(c)].get("p50_ms", float("nan")) for c in mine]
        bottom.plot(mine, p50, **style)
    for ax, title, unit in ((top, "throughput", "ops/s"), (bottom, "p50 latency", "ms")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_xlabel("concurrent callers")
        ax.set_ylabel(unit)
        ax.set_title(f"text search: {title}")
        ax.grid(True, which="both", alpha=0.3)
    top.set_ylim(bottom=0)
    bottom.set_yscale("log")
    top.legend(fontsize=8)
    fig.suptitle(f"one shared store, {results['meta']['n']:,} documents")
    fig.tight_layout()
    path = out / "load.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def update_readme(path: Path, text: str) -> bool:
    """Replace the text between the README's bench-load markers; False if it has none."""
    return report.update_readme(path, text, (README_BEGIN, README_END))


def readme_summary(results: dict[str, Any], out: Path, plot: str = "results/load.png") -> str:
    """What ``bench/README.md`` shows: the targets, text search by callers, the plot (``plot``,
    a link from that file), one line per other part; every table is in ``load.md``."""
    lines = [*_header(results), "", "Targets:", ""]
    lines += _table(["target", "measured", "status"], _target_rows(results["targets"]))
    text = results.get("sweep", {}).get("text")
    if text:
        levels = sorted({int(c) for cells in text.values() for c in cells})
        lines += ["", "Text search by concurrent callers, ops/s (p50 ms):", ""]
        lines += _table(
            ["system", *map(str, levels)],
            [
                [name, *(
                    f"{_fmt(cells[str(c)]['ops_per_s'])} ({_fmt(cells[str(c)].get('p50_ms'), 0)})"
                    if str(c) in cells else "-" for c in levels
                )]
                for name, cells in text.items()
            ],
        )  # fmt: skip
        lines += ["", f"![text search under load]({plot})"]
    mixed = results.get("mixed", {})
    if mixed:
        lines += ["", "Search p99 with writers / without (the stores: medians of rounds):", ""]
        kinds = list(next(iter(mixed.values()))["p99_ratio"])
        rows = [
            [name, writers, *(_fmt(pair[key].get(k), 2) for k in kinds)]
            for name, pair in mixed.items()
            for key, writers in (("p99_ratio", "paced"), ("p99_ratio_flat_out", "flat out"))
            if key in pair
        ]
        lines += _table(["system", "writers", *kinds], rows)
    http = results.get("http", {})
    if "errors" in http:
        search = http["kinds"].get("GET /search", {})
        lines += [
            "",
            f"HTTP (`examples/service.py`, uvicorn, {http['callers']} httpx callers, "
            f"{http['seconds']:g} s): {_fmt(http['ops_per_s'])} requests/s, GET /search p50 "
            f"{_fmt(search.get('p50_ms'), 0)} ms / p99 {_fmt(search.get('p99_ms'), 0)} ms, "
            f"{http['errors']} errors.",
        ]
    newest = _newest_soak(out)
    if newest is not None:
        soak, stamp = newest
        phases = [soak_phase(soak["samples"], phase) for phase in soak["phases"]]
        rss = ", ".join(f"{p['metrics']['client RSS (MB)']['change']:+.1%}" for p in phases)
        errors = sum(phase["errors"] for phase in soak["phases"].values())
        lines += [
            "",
            f"Soak ({stamp}, {soak['seconds'] / 60:g} min of the mixed load, threads then "
            f"asyncio): client RSS {rss} per phase, server connections flat, {errors} "
            f"errors, {soak['verify']['checked']:,} acknowledged adds checked, "
            f"{soak['verify']['missing']} missing.",
        ]
    lines += ["", "Every table, with latencies and CPU: `bench/results/load.md`."]
    return "\n".join(lines)


def write(
    results: dict[str, Any],
    out: Path,
    *,
    readme: Path | None = None,
    summary: Path | None = None,
) -> Paths:
    """Write the JSON and the markdown (and the plot).

    If asked: the load summary into ``readme`` (``bench/README.md``), between its bench-load
    markers, and the top-level README's summary table into ``summary``, from the newest full
    run of ``python -m bench`` kept in ``out`` and this run.
    """
    out.mkdir(parents=True, exist_ok=True)
    meta = results["meta"]
    soak = "soak" in results
    results["targets"] = [] if soak else targets(results)
    json_path = out / f"load-{meta['timestamp']}-n{meta['n']}{'-soak' if soak else ''}.json"
    json_path.write_text(json.dumps(results, indent=2, default=float) + "\n")
    if soak:
        text = "\n".join(["# Soak (`make bench-soak`)", "", *_header(results), "",
                          *soak_markdown(results["soak"], meta["timestamp"])])  # fmt: skip
        md_path = out / "soak.md"
        md_path.write_text(text)
        return Paths(json=json_path, markdown=md_path)
    text = markdown(results, out)
    md_path = out / "load.md"
    md_path.write_text(text)
    chart = plot(results, out)
    if readme is not None:
        plot_link = report.relative(out / "load.png", readme.parent)
        if not update_readme(readme, readme_summary(results, out, plot_link)):
            print(f"note: {readme} has no {README_BEGIN} ... {README_END} markers; not updated")
    if summary is not None:
        run = report.newest(out)
        if run is None:
            print(f"note: no full run of `python -m bench` in {out}; {summary} not updated")
        else:
            report.update_summary(summary, run, results)
    return Paths(json=json_path, markdown=md_path, plots=[chart] if chart else [])
