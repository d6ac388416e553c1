"""Every Python block of README.md runs, in order, as one session."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from redis_docstore import DefaultEmbedder
from redis_docstore._ops import state as state_module

ROOT = Path(__file__).parents[2]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)

pytestmark = pytest.mark.slow


def test_readme_python_blocks_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    embedder: DefaultEmbedder,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    assert len(blocks) >= 10
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    monkeypatch.chdir(tmp_path)
    # The blocks' stores use the session's model instead of loading their own.
    monkeypatch.setattr(state_module, "default_embedder", lambda: embedder)
    namespace: dict[str, object] = {"__name__": "readme"}
    try:
        for number, block in enumerate(blocks, start=1):
            try:
                exec(compile(block, f"README.md block {number}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"README block {number} failed:\n{block}") from exc
    finally:
        store = namespace.get("store")
        if store is not None:
            store.close()  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "That is a very happy person" in out
    assert "library.v2 tiny-v1" in out
    assert "KNN 3 @embedding" in out
