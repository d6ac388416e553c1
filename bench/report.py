"""Results out: ``<timestamp>-n<N>.json``, ``latest.md``, PNG plots, the README tables.

The markdown leads with the machine that made the numbers, then one table per
question (ingest, queries, ``ef_runtime``, memory, text, scale), then the
targets the store is held to, each PASS or FAIL, then notes on method. It goes
whole into ``bench/README.md``; the top-level README gets one summary table
(:func:`summary_markdown`): the store against raw redis-py, RedisVL and Chroma.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import FILTERS
from redis_docstore._ops.state import DEFAULT_EF_RUNTIME

__all__ = ["Paths", "markdown", "newest", "summary_markdown", "targets", "write"]

README_BEGIN = "<!-- bench:begin -->"
README_END = "<!-- bench:end -->"
SUMMARY_BEGIN = "<!-- bench-summary:begin -->"
SUMMARY_END = "<!-- bench-summary:end -->"
# The summary's columns: the sync store, then what a user would write instead.
SUMMARY_COLUMNS = (
    ("store", "this store"),
    ("raw", "raw redis-py"),
    ("redisvl", "RedisVL"),
    ("chroma", "Chroma"),
)
# The same columns in the load benchmark (bench.load): raw there is the model, then raw
# FT.SEARCH, by hand. Chroma is not in it.
LOAD_COLUMNS = {"store": "store", "raw": "by_hand", "redisvl": "redisvl"}
SUMMARY_CALLERS = 16
# Full runs only: not the load runs, nor --scale-only series, nor renamed partial reruns.
RUN_NAME = re.compile(r"\d{8}T\d{6}Z-n\d+\.json")
LOAD_NAME = re.compile(r"load-\d{8}T\d{6}Z-n\d+\.json")
STORES = ("store", "store_async", "store_list")

METHOD_NOTES = (
    "Corpus: clustered unit vectors (64 topics, each a 16-d subspace plus noise), 20 genres "
    "with Zipf-like shares, ~15 % of documents with two genres; queries are fresh samples "
    "from the topics. Recall@10 is against exact numpy top-10 (squared L2) over the "
    "documents matching the filter.",
    "Every Redis system runs on its own embedded Redis Stack server with the same index "
    "(content TEXT, genre TAG, embedding HNSW FLOAT32 L2, M=16, EF_CONSTRUCTION=200, "
    "EF_RUNTIME=10). Ingest is timed from the first write until FT.INFO reports the index "
    "complete (indexing 0, percent_indexed 1, num_docs N); memory is the growth of "
    "used_memory over the empty index, every server holding the same key names.",
    "Every system first ingests alone ('docs/s alone', with its memory). Raw and the two "
    "stores then ingest again into new servers all at once, taking turns of 10,000 "
    "documents in rotating order (reversed every other cycle, so each follows each other "
    "equally often), each timed only in its own turns ('taking turns'): run "
    "alone, one system's two runs differ by 5-10% with the machine's other load, so the "
    "ingest target is judged on the turns, where all share that load.",
    "Queries run one at a time from one client, interleaved in rounds across systems (the "
    "whole set three times over in a full run, every pass counted, so that a burst of "
    "load elsewhere on the machine hits all alike); QPS is calls / total latency. "
    "raw = redis-py RESP2, pipelined JSON.SET with orjson (best "
    "of 100/500/1000 per pipeline), prebuilt FT.SEARCH; all systems return content, "
    "genres, metadata and distance.",
    "`raw@store` runs raw's prebuilt FT.SEARCH against the store's own server and index, "
    "in the same rounds. The same command on servers built from the same data differs by "
    "several percent (the raw@store rows' 'p50 vs raw'; the HNSW graph and memory layout "
    "differ per build), as much as the client's own cost, so the store is held to raw on "
    "its own index ('same server'); the async store's baseline is the same query awaited "
    "with redis.asyncio on the same event loop.",
    "Chroma runs in-process (PersistentClient, hnsw l2, ef_construction 200, "
    "max_neighbors 16, its default ef_search 100); genres are a list metadata value "
    "filtered with $contains (the same multi-genre semantics); its memory is the growth "
    "of this process's RSS, which is approximate.",
)


@dataclass
class Paths:
    """What :func:`write` wrote."""

    json: Path
    markdown: Path
    plots: list[Path]


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}x"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def module_version(value: Any) -> str:
    """A module version as MODULE LIST gives it (``21005``) in dotted form (``2.10.5``)."""
    text = str(value)
    if not text.isdigit():
        return text
    number = int(text)
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def machine_line(results: dict[str, Any]) -> str:
    """One sentence saying which machine and software made the numbers."""
    meta = results["meta"]
    m, v = meta["machine"], meta.get("versions", {})
    kernel = m["uname"].split()[2] if len(m["uname"].split()) > 2 else m["uname"]
    git = meta.get("git", {})
    dirty = " + uncommitted src changes" if git.get("src_dirty") else ""
    return (
        f"Made on {m['cpu']}, {m['usable_cores']} cores, {m['ram_gib']} GiB RAM, Linux "
        f"{kernel}; Python {m['python']}, redis-server {v.get('redis_server', '?')}, "
        f"RediSearch {module_version(v.get('search_module', '?'))}, "
        f"RedisJSON {module_version(v.get('json_module', '?'))}, "
        f"redis-py {m['packages'].get('redis')}, redisvl {m['packages'].get('redisvl')}, "
        f"chromadb {m['packages'].get('chromadb')}; commit {git.get('commit', '?')}{dirty}; "
        f"{meta['timestamp']}; load average {m['loadavg_start'][0]:.1f} at start, "
        f"{m.get('loadavg_end', [math.nan])[0]:.1f} at end (other work shared the machine)."
    )


def _ingest_rows(results: dict[str, Any]) -> list[list[str]]:
    ingest = results["ingest"]
    raw = ingest.get("raw", {})
    raw_rate = raw.get("docs_per_s")
    raw_turns = raw.get("interleaved", {}).get("docs_per_s")
    raw_mem = raw.get("memory", {}).get("bytes_per_doc")
    rows = []
    for name, r in ingest.items():
        mem = r["memory"]
        turns = r.get("interleaved", {}).get("docs_per_s")
        rows.append(
            [
                r["label"],
                _fmt(r["docs_per_s"], 0),
                _ratio(r["docs_per_s"], raw_rate),
                _fmt(turns, 0) if turns else "-",
                _ratio(turns, raw_turns) if turns else "-",
                _fmt(mem.get("bytes_per_doc")),
                _ratio(mem.get("bytes_per_doc"), raw_mem) if name != "chroma" else "-",
            ]
        )
    return rows


def ingest_ratio(ingest: dict[str, Any], name: str) -> float | None:
    """A system's ingest rate over raw's: from the interleaved run when both had one."""
    mine, raw = ingest.get(name, {}), ingest.get("raw", {})
    if "interleaved" in mine and "interleaved" in raw:
        return float(mine["interleaved"]["docs_per_s"] / raw["interleaved"]["docs_per_s"])
    if mine.get("docs_per_s") and raw.get("docs_per_s"):
        return float(mine["docs_per_s"] / raw["docs_per_s"])
    return None


def _query_rows(results: dict[str, Any]) -> list[list[str]]:
    queries = results["queries"]
    labels = results["meta"]["labels"]
    raw = queries.get("raw", {})
    rows = []
    for f in FILTERS:
        for name, by_filter in queries.items():
            s = by_filter[f]
            base = raw.get(f, {}).get("p50_ms")
            same = queries.get(f"raw@{name}", {}).get(f, {}).get("p50_ms")
            rows.append(
                [
                    labels[name],
                    f,
                    _fmt(s["p50_ms"], 3),
                    _fmt(s["p95_ms"], 3),
                    _fmt(s["p99_ms"], 3),
                    _fmt(s["qps"], 0),
                    _ratio(s["p50_ms"], base),
                    _ratio(s["p50_ms"], same),
                    _fmt(s["recall"], 3),
                ]
            )
    return rows


def search_ratios(queries: dict[str, Any], name: str) -> dict[str, tuple[float, float | None]]:
    """Per filter: the store's p50 over raw's (raw's server), and over raw@store (its own)."""
    out: dict[str, tuple[float, float | None]] = {}
    for f in FILTERS:
        p50 = queries[name][f]["p50_ms"]
        same = queries.get(f"raw@{name}", {}).get(f, {}).get("p50_ms")
        out[f] = (p50 / queries["raw"][f]["p50_ms"], p50 / same if same else None)
    return out


def _ef_rows(sweep: dict[str, Any]) -> list[list[str]]:
    return [
        [
            ef,
            *(_fmt(by_filter[f]["recall"], 3) for f in FILTERS),
            *(_fmt(by_filter[f]["p50_ms"], 3) for f in FILTERS),
        ]
        for ef, by_filter in sweep.items()
    ]


def _memory_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    raw_mem = results["ingest"].get("raw", {}).get("memory", {}).get("bytes_per_doc")
    for name, r in results["ingest"].items():
        m = r["memory"]
        if name == "chroma":
            rows.append(
                [r["label"], f"{_fmt(m['bytes_per_doc'], 0)} (RSS)", "-", "-",
                 f"{_fmt(m['disk_bytes_per_doc'], 0)} (disk)", "-"]
            )  # fmt: skip
            continue
        rows.append(
            [
                r["label"],
                _fmt(m["bytes_per_doc"], 0),
                _fmt(m["vector_index_bytes_per_doc"], 0),
                _fmt(m["other_index_bytes_per_doc"], 0),
                _fmt(m["key_bytes_per_doc_sample"], 0),
                _ratio(m["bytes_per_doc"], raw_mem),
            ]
        )
    return rows


_TEXT_OPS = (
    ("encode", "`model.encode([q])`"),
    ("embedder", "the store's embedder, `embed_many([q])`"),
    ("raw_vector_search", "raw FT.SEARCH with q's vector"),
    ("store_text_search", "`store.search(q)` (embeds + searches)"),
    ("store_text_search_minus_own_embed", "the same minus its own embed call (paired)"),
    ("encode_then_raw_search", "by hand: `model.encode([q])` then raw FT.SEARCH"),
    ("raw_search_after_model", "the raw FT.SEARCH part of that (right after a model call)"),
    ("raw_search_after_idle", "control: raw FT.SEARCH after 10 ms of sleep (no model)"),
    ("store_text_search_cached", "`store.search(q)` repeated (embedding LRU hit)"),
)


def _text_lines(text: dict[str, Any]) -> list[str]:
    lines = [
        f"Text ingest (all-MiniLM-L6-v2 on the CPU; `model.encode(texts)` with its defaults "
        f"and the store's embedder alone against `store.add` with embedding included, until "
        f"the index is complete; median "
        f"of {len(text['encode_runs_s'])} alternating runs each):",
        "",
    ]
    sets = [("generated (the corpus's, ~17 tokens each)", text)]
    if text.get("real_text"):
        sets.append(("real mixed-length text (bench/embeddings)", text["real_text"]))
    if text.get("generated_one_torch_thread"):
        sets.append(
            ("generated, 1 torch thread both sides (a core left for Redis)",
             text["generated_one_torch_thread"])
        )  # fmt: skip
    lines += _table(
        ["texts", "count", "model.encode texts/s", "the store's embedder alone",
         "store.add docs/s", "vs encode", "its embedder inside store.add",
         "Redis server CPU during store.add"],
        [
            [label, f"{t['texts']:,}", _fmt(t["encode_texts_per_s"], 1),
             _fmt(t.get("embedder_texts_per_s"), 1),
             _fmt(t["store_ingest_docs_per_s"], 1), f"{t['ingest_vs_encode']:.2f}x",
             _fmt(t.get("model_in_add_texts_per_s"), 1),
             f"{t['server_cpu_share']:.0%} of a core" if "server_cpu_share" in t else "-"]
            for label, t in sets
        ],
    )  # fmt: skip
    lines += [
        f"Text search, {text['queries']} short queries per column, each new to the store "
        f"(p50 / p95 / p99 ms); raw FT.SEARCH with the store's EF_RUNTIME "
        f"({text.get('ef_runtime', '?')}); torch threads {text.get('torch_threads', '?')} "
        f"(its default) and 1, OpenMP settings {text.get('omp_env') or 'default'}:",
        "",
    ]
    passes = [("default threads", text)]
    if text.get("one_torch_thread"):
        passes.append(("1 torch thread", text["one_torch_thread"]))
    rows = [
        [label]
        + [
            "/".join(_fmt(p["query"][key][s], 3) for s in ("p50_ms", "p95_ms", "p99_ms"))
            for _, p in passes
        ]
        for key, label in _TEXT_OPS
        if key in text["query"]
    ]
    lines += _table(["operation", *(name for name, _ in passes)], rows)
    for name, p in passes:
        lines.append(
            f"- {name}: store text search p50 - (encode p50 + raw p50) = "
            f"{p['store_text_overhead_ms']:+.3f} ms (unpaired; the model's jitter is "
            f"ms-scale); paired, p50(store - its own embed call) - raw p50 = "
            f"{p['store_text_overhead_paired_ms']:+.3f} ms; store p50 - by-hand p50 = "
            f"{p.get('store_text_overhead_vs_by_hand_ms', math.nan):+.3f} ms; paired, both "
            f"right after a model call, p50(store - its embed call) - p50(raw part) = "
            f"{p.get('store_text_overhead_paired_after_model_ms', math.nan):+.3f} ms; "
            f"store p50 - (encode p50 + p50 of raw's search after a model call) = "
            f"{p.get('store_text_overhead_raw_in_place_ms', math.nan):+.3f} ms. "
            f"Idle wake-up (control): raw after 10 ms asleep - raw p50 = "
            f"{p.get('idle_wake_ms', math.nan):+.3f} ms."
        )
    return [*lines, ""]


def _scale_rows(scale: dict[str, Any]) -> list[list[str]]:
    return [
        [
            f"{run['n']:,}",
            _fmt(run["docs_per_s"]),
            _fmt(run["seconds"], 1),
            _fmt(run["bytes_per_doc"], 0),
            _fmt(run["used_memory_after"] / 1024**3, 2),
            *(_fmt(run["queries"][f]["p50_ms"], 3) for f in FILTERS),
            *(_fmt(run["queries"][f]["recall"], 3) for f in FILTERS),
            *(
                _fmt(run.get("queries_default_ef", {}).get(f, {}).get(stat), 3)
                for stat in ("p50_ms", "recall")
                for f in FILTERS
            ),
        ]
        for run in scale["runs"]
    ]


def _single_add_rows(runs: Sequence[dict[str, Any]]) -> list[list[str]]:
    def both(stats: dict[str, Any]) -> str:
        return f"{_fmt(stats['p50_ms'], 3)} / {_fmt(stats['p95_ms'], 3)}"

    return [
        [
            f"{run['n']:,}",
            kind,
            both(result["raw"]),
            both(result["store"]),
            f"{result['ratio_p50']:.2f}x",
        ]
        for run in runs
        for kind, result in run["single_adds"].items()
    ]


def paired_spread(base_s: Sequence[float], mine_s: Sequence[float]) -> str:
    """How much paired runs agree: per pair ``base time / my time``, as a short text.

    The range of the pairs and a 95% bootstrap interval of their geometric mean
    (fixed seed): a ratio whose interval straddles 1.0 is a tie within this
    machine's run-to-run noise, not a measured difference either way.
    """
    ratios = [b / m for b, m in zip(base_s, mine_s, strict=True) if b > 0 and m > 0]
    if len(ratios) < 2:
        return ""
    logs = np.log(np.asarray(ratios))
    rng = np.random.default_rng(0)
    means = logs[rng.integers(0, len(logs), size=(10_000, len(logs)))].mean(axis=1)
    low, high = np.exp(np.percentile(means, [2.5, 97.5]))
    return (
        f"; {len(ratios)} pairs {min(ratios):.2f}-{max(ratios):.2f}, "
        f"geo-mean {math.exp(logs.mean()):.2f} (95% CI {low:.2f}-{high:.2f})"
    )


def targets(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """The store's targets: (what, met or None if not measured, the numbers)."""
    out: list[tuple[str, bool | None, str]] = []
    ingest, queries = results["ingest"], results["queries"]
    for name in STORES:
        ratio = ingest_ratio(ingest, name)
        if ratio is not None:
            how = ""
            if "interleaved" in ingest[name]:
                turns = ingest[name]["interleaved"].get("turn_seconds", [])
                raw_turns = ingest["raw"]["interleaved"].get("turn_seconds", [])
                spread = paired_spread(raw_turns, turns) if len(turns) == len(raw_turns) else ""
                how = f" (taking turns{spread})"
            out.append((f"{name}: vector ingest >= 1.0x raw", ratio >= 1.0, f"{ratio:.2f}x{how}"))
        if name in queries and "raw" in queries:
            ratios = search_ratios(queries, name)
            if all(same is not None for _, same in ratios.values()):
                # Held to raw on its own index: servers differ by several percent.
                shown = ", ".join(
                    f"{f} {same:.2f}x ({other:.2f}x vs raw's server)"
                    for f, (other, same) in ratios.items()
                )
                ok = all(same is not None and same <= 1.10 for _, same in ratios.values())
                client = " (redis.asyncio)" if name == "store_async" else ""
                what = (
                    f"{name}: vector search p50 <= 1.10x raw FT.SEARCH{client} on the same index"
                )
            else:
                shown = ", ".join(f"{f} {other:.2f}x" for f, (other, _) in ratios.items())
                ok = all(other <= 1.10 for other, _ in ratios.values())
                what = f"{name}: vector search p50 <= 1.10x raw"
            out.append((what, ok, shown))
    text = results.get("text")
    if text:
        for label, t in (("generated text", text), ("real text", text.get("real_text"))):
            if t:
                ratio = t["ingest_vs_encode"]
                spread = paired_spread(t.get("encode_runs_s", []), t.get("ingest_runs_s", []))
                out.append(
                    (f"store: text ingest >= 1.0x model.encode ({label})", ratio >= 1.0,
                     f"{ratio:.2f}x{f' ({spread[2:]})' if spread else ''}")
                )  # fmt: skip
        over = text["store_text_overhead_ms"]
        wake = text.get("idle_wake_ms")
        why = "" if wake is None else f" (idle wake-up, no model: {wake:+.3f} ms)"
        out.append(
            ("store: text search p50 <= embed p50 + raw p50 + 0.2 ms", over <= 0.2,
             f"{over:+.3f} ms{why}")
        )  # fmt: skip
        after = text.get("store_text_overhead_paired_after_model_ms")
        if after is not None:
            out.append(
                ("store: the library's own part, paired, both after a model call, <= 0.2 ms",
                 after <= 0.2, f"{after:+.3f} ms")
            )  # fmt: skip
    sweep = results.get("ef_sweep", {})
    default = str(DEFAULT_EF_RUNTIME)
    if default in sweep:
        # The comparison tables run the store at the baselines' EF (10); its own
        # default is the sweep's row for DEFAULT_EF_RUNTIME.
        recalls = {f: sweep[default][f]["recall"] for f in FILTERS}
        shown = ", ".join(f"{f} {r:.3f}" for f, r in recalls.items())
        out.append(
            (f"store: recall@10 >= 0.99 at defaults (ef_runtime {default})",
             all(r >= 0.99 for r in recalls.values()), shown)
        )  # fmt: skip
    return out


def markdown(results: dict[str, Any]) -> str:
    """The whole report as markdown."""
    meta, corpus = results["meta"], results.get("corpus", {})
    title = "quick check" if meta["quick"] else "benchmark"
    heading = (
        f"## redis-docstore {title}: {meta['n']:,} documents x {corpus.get('dims', 384)} "
        f"dims, {meta['queries']} queries x {len(FILTERS)} filters, k=10"
    )
    if meta.get("scale_only"):
        heading = "## redis-docstore scale series: this store alone, k=10"
    lines = [
        heading,
        "",
        machine_line(results),
        "",
    ]
    if corpus.get("genres"):
        sizes = {
            cls: [g for g, info in corpus["genres"].items() if info["class"] == cls]
            for cls in FILTERS[1:]
        }
        lines += [
            "Filters: `all` = none; "
            + "; ".join(
                f"`{cls}` = one of {len(names)} genres with "
                f"{min(corpus['genres'][g]['share'] for g in names):.1%}-"
                f"{max(corpus['genres'][g]['share'] for g in names):.1%} of documents"
                for cls, names in sizes.items()
            )
            + ".",
            "",
        ]
    if results["ingest"]:
        lines += ["### Ingest (precomputed vectors, until fully indexed)", ""]
        lines += _table(
            [
                "system",
                "docs/s alone",
                "vs raw",
                "docs/s taking turns",
                "vs raw",
                "memory B/doc",
                "vs raw",
            ],
            _ingest_rows(results),
        )
    if results["queries"]:
        lines += ["### Vector search (one client, sequential)", ""]
        lines += _table(
            [
                "system",
                "filter",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "QPS",
                "p50 vs raw",
                "p50 vs raw, same server",
                "recall@10",
            ],
            _query_rows(results),
        )
    if results.get("ef_sweep"):
        lines += ["### HNSW `ef_runtime` (this store)", ""]
        lines += _table(
            ["EF_RUNTIME", *(f"recall {f}" for f in FILTERS), *(f"p50 ms {f}" for f in FILTERS)],
            _ef_rows(results["ef_sweep"]),
        )
    if results["ingest"]:
        lines += ["### Memory per document", ""]
        lines += _table(
            ["system", "used_memory B/doc", "vector index B/doc", "other index B/doc",
             "key B/doc (MEMORY USAGE)", "vs raw"],
            _memory_rows(results),
        )  # fmt: skip
    if results.get("text"):
        lines += ["### Text (the model)", ""]
        lines += _text_lines(results["text"])
    if results.get("scale", {}).get("runs"):
        lines += ["### Scale (this store alone)", ""]
        lines += _table(
            ["N", "docs/s", "ingest s", "B/doc", "used_memory GiB",
             *(f"p50 ms {f} (EF 10)" for f in FILTERS), *(f"recall {f} (EF 10)" for f in FILTERS),
             *(f"{stat} {f} (EF {DEFAULT_EF_RUNTIME})"
               for stat in ("p50 ms", "recall") for f in FILTERS)],
            _scale_rows(results["scale"]),
        )  # fmt: skip
        single = [run for run in results["scale"]["runs"] if run.get("single_adds")]
        if single:
            lines += [
                "One document per `add` on the index of that size: the store against raw "
                "redis-py writing the same document (`orjson.dumps` of it, then one "
                "`JSON.SET`), on the same server, taking turns "
                f"({single[0]['single_adds']['numpy']['store']['n']} pairs per kind; target "
                "<= 1.2x):",
                "",
            ]
            lines += _table(
                ["N", "vector", "raw JSON.SET p50 / p95 ms", "store.add p50 / p95 ms",
                 "p50 vs raw"],
                _single_add_rows(single),
            )  # fmt: skip
    checks = targets(results)
    if checks:
        lines += ["### Targets", ""]
        lines += _table(
            ["target", "result", "measured"],
            [[what, "PASS" if ok else "FAIL", shown] for what, ok, shown in checks],
        )
    lines += ["### Notes", ""]
    lines += [f"- {note}" for note in (*METHOD_NOTES, *results["notes"])]
    return "\n".join(lines) + "\n"


def _plots(results: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    labels = results["meta"]["labels"]

    def save(fig: Any, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    queries = results["queries"]
    if queries:
        names = list(queries)
        fig, axes = plt.subplots(1, len(FILTERS), figsize=(4 * len(FILTERS), 4.2), sharey=True)
        for ax, f in zip(axes, FILTERS, strict=True):
            xs = range(len(names))
            for key, marker in (("p50_ms", None), ("p95_ms", "_"), ("p99_ms", "x")):
                values = [queries[n][f][key] for n in names]
                if marker is None:
                    ax.bar(xs, values, color="tab:blue", label="p50")
                else:
                    ax.scatter(xs, values, marker=marker, color="black", label=key[:3], zorder=3)
            ax.set_title(f"filter: {f}")
            ax.set_xticks(list(xs), [labels[n] for n in names], rotation=35, ha="right")
            ax.set_yscale("log")
            ax.grid(axis="y", alpha=0.3)
        axes[0].set_ylabel("latency per query, ms (log)")
        axes[0].legend()
        fig.suptitle(f"Vector search latency, k=10, N={results['meta']['n']:,}")
        save(fig, "latency.png")

        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
        width = 0.8 / len(names)
        for i, n in enumerate(names):
            left.bar(
                [j + i * width for j in range(len(FILTERS))],
                [queries[n][f]["recall"] for f in FILTERS],
                width,
                label=labels[n],
            )
        left.set_xticks([j + 0.4 - width / 2 for j in range(len(FILTERS))], list(FILTERS))
        left.set_ylim(
            max(0.0, min(queries[n][f]["recall"] for n in names for f in FILTERS) - 0.05), 1.0
        )
        left.set_ylabel("recall@10")
        left.set_title("recall@10 per system and filter (defaults)")
        left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3)
        sweep = results.get("ef_sweep") or {}
        if sweep:
            efs = [int(ef) for ef in sweep]
            for f in FILTERS:
                right.plot(efs, [sweep[str(ef)][f]["recall"] for ef in efs], marker="o", label=f)
            right.set_xscale("log")
            right.set_xticks(efs, [str(ef) for ef in efs])
            right.set_xlabel("EF_RUNTIME")
            right.set_ylabel("recall@10")
            right.set_title("this store: recall@10 vs EF_RUNTIME")
            right.legend()
        else:
            right.axis("off")
        save(fig, "recall.png")

    series = _ingest_series(results, out)
    if series:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, points in series.items():
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                    label=labels.get(name, name))  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("documents (N)")
        ax.set_ylabel("ingest docs/s (until indexed)")
        ax.set_title("Ingest throughput vs N")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, "ingest_vs_n.png")
    return written


def _ingest_series(results: dict[str, Any], out: Path) -> dict[str, list[tuple[int, float]]]:
    """Ingest rate vs N: the newest --scale series (this run's or a kept one's), else
    every system's rate in every run kept in ``out``."""
    scale = results.get("scale", {}).get("runs")
    if scale:
        return {"store": [(run["n"], run["docs_per_s"]) for run in scale]}
    newest_scale: list[tuple[int, float]] = []
    series: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(out.glob("*-n*.json")):
        try:
            past = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if past.get("scale", {}).get("runs"):
            newest_scale = [(r["n"], r["docs_per_s"]) for r in past["scale"]["runs"]]
        for name, r in past.get("ingest", {}).items():
            series.setdefault(name, []).append((r["docs"], r["docs_per_s"]))
    return {"store": newest_scale} if newest_scale else series


def update_readme(
    path: Path, table: str, markers: tuple[str, str] = (README_BEGIN, README_END)
) -> bool:
    """Replace the text between the file's bench markers; False if it has none.

    A marker counts only alone on its line: ``bench/README.md`` quotes the markers in
    its prose, and a quoted one must not be taken for the real one.
    """
    text = path.read_text()
    begin = re.search(rf"^{re.escape(markers[0])}[ \t]*$", text, re.MULTILINE)
    if begin is None:
        return False
    end = re.compile(rf"^{re.escape(markers[1])}[ \t]*$", re.MULTILINE).search(text, begin.end())
    if end is None:
        return False
    path.write_text(f"{text[: begin.end()]}\n{table}\n{text[end.start() :]}")
    return True


def summary_markdown(results: dict[str, Any], load: dict[str, Any] | None = None) -> str:
    """The top-level README's one table: this store against raw redis-py, RedisVL, Chroma.

    ``results`` is one run of ``python -m bench``; ``load`` is a run of ``python -m
    bench.load``, for text search with one caller and with many callers sharing one
    client (without it, text search comes from ``results``, store and by hand only). What
    a run did not measure shows ``-``. Under the table, the notes a reader needs to read it
    right: the EF_RUNTIME of the comparison, servers that differ, the hash alternative.
    """
    meta, ingest, queries = results["meta"], results.get("ingest", {}), results["queries"]
    default_ef = results.get("ef_sweep", {}).get(str(DEFAULT_EF_RUNTIME), {})
    names = [name for name, _ in SUMMARY_COLUMNS]

    def row(what: str, cell: Callable[[str], str]) -> list[str]:
        return [what, *(cell(name) for name in names)]

    def query(name: str, f: str, stat: str) -> float | None:
        value: float | None = queries.get(name, {}).get(f, {}).get(stat)
        return value

    def at_default(f: str, stat: str, digits: int) -> str:
        value = default_ef.get(f, {}).get(stat)
        return "" if value is None else f" ({value:.{digits}f} at EF {DEFAULT_EF_RUNTIME})"

    def rate(name: str) -> str:
        return _fmt(ingest.get(name, {}).get("docs_per_s"), 0)

    def unfiltered(name: str) -> str:
        shown = _fmt(query(name, "all", "p50_ms"))
        return shown + (at_default("all", "p50_ms", 2) if name == "store" else "")

    def filtered(name: str) -> str:
        values = [query(name, f, "p50_ms") for f in FILTERS[1:]]
        if all(v is None for v in values):
            return "-"
        return " / ".join(_fmt(v) for v in values)

    def memory(name: str) -> str:
        shown = _fmt(ingest.get(name, {}).get("memory", {}).get("bytes_per_doc"), 0)
        return f"{shown} (RSS)" if name == "chroma" and shown != "-" else shown

    def recall(name: str) -> str:
        shown = _fmt(query(name, "all", "recall"), 3)
        return shown + (at_default("all", "recall", 3) if name == "store" else "")

    rows = [
        row("ingest, docs/s until indexed", rate),
        row("vector search p50 ms, unfiltered", unfiltered),
        row("vector search p50 ms, one genre: large / mid / small", filtered),
    ]
    if load is not None:
        from bench import load_report  # it imports this module

        def judged(name: str, callers: int, stat: str, digits: int) -> str:
            system = LOAD_COLUMNS.get(name)
            if system is None:
                return "-"
            return _fmt(load_report._judged(load, system, callers, stat), digits)

        rows += [
            row("text search p50 ms, model included", lambda n: judged(n, 1, "p50_ms", 1)),
            row(
                f"text searches/s, {SUMMARY_CALLERS} threads sharing one client",
                lambda n: judged(n, SUMMARY_CALLERS, "ops_per_s", 0),
            ),
        ]
    elif results.get("text"):
        text_ops = {"store": "store_text_search", "raw": "encode_then_raw_search"}
        text_query = results["text"]["query"]
        rows.append(
            row(
                "text search p50 ms, model included",
                lambda n: _fmt(text_query.get(text_ops.get(n, ""), {}).get("p50_ms"), 1),
            )
        )
    rows += [
        row("memory per document, bytes", memory),
        row("recall@10, unfiltered", recall),
    ]
    corpus = results.get("corpus", {})
    machine = meta["machine"]
    runs = f"run {meta['timestamp']}" + (
        f", load run {load['meta']['timestamp']}" if load is not None else ""
    )
    lines = [
        f"{meta['n']:,} documents x {corpus.get('dims', 384)} dims, k=10, one client unless "
        f"said; {machine['cpu']}, {machine['usable_cores']} cores; {runs}.",
        "",
        *_table(["", *(label for _, label in SUMMARY_COLUMNS)], rows),
    ]
    notes = [
        "Every Redis system has the same index and searches at EF_RUNTIME 10 here (RedisVL's "
        f"default); in parentheses, the store at its own default, {DEFAULT_EF_RUNTIME}. Chroma "
        "runs in process at its default ef_search 100; its memory is the process's RSS.",
    ]
    if "store" in queries and "raw@store" in queries:
        same = [ratio for _, ratio in search_ratios(queries, "store").values() if ratio]
        if same:
            notes.append(
                "Each server builds its own HNSW graph, and the same query differs by several "
                "percent between servers holding the same data; on its own server, the "
                f"store's vector search p50 is {min(same):.2f}-{max(same):.2f}x raw "
                "redis-py's same query."
            )
    if load is not None:
        notes.append(
            "For text (the load run, medians of its rounds), raw redis-py is `model.encode` "
            "then a raw `FT.SEARCH`, by hand, and RedisVL its `HFTextVectorizer` then "
            "`SearchIndex.query`, all at the store's EF_RUNTIME; the client is the store, the "
            "model and a redis-py client, or RedisVL's vectorizer and index."
        )
    hashed = ingest.get("redisvl_hash")
    if hashed:
        notes.append(
            f"RedisVL storing hashes of float32 bytes instead of JSON: "
            f"{_fmt(hashed['docs_per_s'], 0)} docs/s, "
            f"{_fmt(hashed['memory'].get('bytes_per_doc'), 0)} bytes per document."
        )
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def newest(out: Path, *, load: bool = False) -> dict[str, Any] | None:
    """The newest full run kept in ``out`` (``load``: of the load benchmark), or None."""
    pattern = LOAD_NAME if load else RUN_NAME
    for path in sorted(out.glob("*.json"), reverse=True):
        if pattern.fullmatch(path.name):
            try:
                found: dict[str, Any] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            return found
    return None


def relative(path: Path, start: Path) -> str:
    """``path`` as a link from a markdown file in the folder ``start``."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def update_summary(path: Path, results: dict[str, Any], load: dict[str, Any] | None) -> None:
    """Replace the summary table between the README's bench-summary markers."""
    if not update_readme(path, summary_markdown(results, load), (SUMMARY_BEGIN, SUMMARY_END)):
        print(f"note: {path} has no {SUMMARY_BEGIN} ... {SUMMARY_END} markers; not updated")


def write(
    results: dict[str, Any],
    out: Path,
    *,
    readme: Path | None = None,
    summary: Path | None = None,
    markdown_name: str = "latest.md",
) -> Paths:
    """Write the JSON, the markdown and the plots.

    If asked: the whole report into ``readme`` (``bench/README.md``), between its bench
    markers, and the summary table into ``summary`` (the top-level README), with the
    newest load run kept in ``out``.
    """
    out.mkdir(parents=True, exist_ok=True)
    results["targets"] = [
        {"target": what, "met": ok, "measured": shown} for what, ok, shown in targets(results)
    ]
    suffix = "-scale" if results["meta"].get("scale_only") else ""
    name = f"{results['meta']['timestamp']}-n{results['meta']['n']}{suffix}.json"
    json_path = out / name
    json_path.write_text(json.dumps(results, indent=2, default=float) + "\n")
    text = markdown(results)
    md_path = out / markdown_name
    md_path.write_text(text)
    plots = _plots(results, out)
    if readme is not None and not update_readme(readme, text):
        print(f"note: {readme} has no {README_BEGIN} ... {README_END} markers; not updated")
    if summary is not None:
        update_summary(summary, results, newest(out, load=True))
    return Paths(json=json_path, markdown=md_path, plots=plots)
