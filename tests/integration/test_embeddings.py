"""The default model, loaded from the packaged files (once per session)."""

from __future__ import annotations

import numpy as np

from redis_docstore import DefaultEmbedder


def test_batches_keep_input_order_and_match_single_embeddings(embedder: DefaultEmbedder) -> None:
    # Lengths deliberately out of order: the embedder sorts by length inside.
    texts = [
        "A much longer text about a lighthouse keeper who writes letters to the sea.",
        "Dog.",
        "Today is a sunny day",
        "x" * 300,
        "That is a happy dog",
    ]
    batch = np.array(embedder.embed_many(texts))
    single = np.array([embedder.embed_many([t])[0] for t in texts])
    assert batch.shape == (5, 384)
    cosines = (batch * single).sum(axis=1) / (
        np.linalg.norm(batch, axis=1) * np.linalg.norm(single, axis=1)
    )
    assert cosines.min() > 0.99999
    # Distinct texts, distinct vectors: nothing was shuffled.
    assert len({tuple(np.round(v, 5)) for v in batch}) == 5


def test_token_budget_batches_give_the_same_vectors(embedder: DefaultEmbedder) -> None:
    texts = [f"{'word ' * (i % 7 + 1)}number {i}" for i in range(40)]
    texts.append("a long text, longer than the budget: " + "lighthouse keeper " * 12)
    small = DefaultEmbedder(batch_size=3, token_budget=24)  # many uneven forward passes
    small._model = embedder._load()  # the session's model, not a second load
    calls: list[int] = []
    encode = small._encode
    small._encode = lambda batch: (calls.append(len(batch)), encode(batch))[1]  # type: ignore[method-assign]
    batched = small.embed_many(texts)
    assert batched.dtype == np.float32 and batched.shape == (41, 384)
    assert calls[0] == 1  # the longest text alone (its 40-odd tokens exceed the budget)
    assert max(calls) <= 3 and sum(calls) == 41
    one_by_one = np.array([embedder.embed_many([t])[0] for t in texts])
    assert np.abs(batched - one_by_one).max() < 1e-5


def test_bfloat16_precision_keeps_the_vectors_close(embedder: DefaultEmbedder) -> None:
    # Correct on any CPU (only its speed depends on native bf16 instructions).
    bf16 = DefaultEmbedder(precision="bfloat16")
    bf16._model = embedder._load()  # the session's model, not a second load
    texts = ["That is a very happy person", "Today is a sunny day", "A dog in the park."]
    exact, approximate = embedder.embed_many(texts), bf16.embed_many(texts)
    assert approximate.dtype == np.float32 and approximate.shape == (3, 384)
    assert ((exact * approximate).sum(axis=1) > 0.999).all()
    assert not np.array_equal(exact, approximate)  # bf16 really ran
    assert "bfloat16" in repr(bf16)


def test_loading_the_default_model_leaves_the_host_process_online_and_quiet() -> None:
    """The packaged model loads without the hub, and without setting HF_HUB_OFFLINE (or
    any hub setting) for the application that embeds the store."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, os\n"
        "from redis_docstore import DefaultEmbedder\n"
        "vectors = DefaultEmbedder().embed_many(['That is a happy dog'])\n"
        "import huggingface_hub.constants as hub\n"
        "from transformers.utils import logging\n"
        "hf = {k: v for k, v in os.environ.items() if k.startswith(('HF_', 'TRANSFORMERS_'))}\n"
        "print(json.dumps({'shape': list(vectors.shape), 'env': hf,"
        " 'hub_offline': hub.HF_HUB_OFFLINE, 'bars': logging.is_progress_bar_enabled()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {"shape": [1, 384], "env": {}, "hub_offline": False, "bars": True}
    assert "Loading weights" not in run.stderr
