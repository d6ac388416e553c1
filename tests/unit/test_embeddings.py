from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from redis_docstore import _embeddings as embeddings
from redis_docstore._embeddings import DefaultEmbedder, Embedder, cpu_has_bf16, validate_vector
from redis_docstore._errors import InvalidEmbeddingError, ValidationError


def check(vector: object, *, dims: int = 3, distance: str = "l2") -> list[float]:
    checked = validate_vector(vector, dims=dims, distance=distance)  # type: ignore[arg-type]
    is_float32 = isinstance(vector, np.ndarray) and vector.dtype == np.float32
    assert checked.dtype == (np.float32 if is_float32 else np.float64) and checked.ndim == 1
    return checked.tolist()  # type: ignore[no-any-return]


def test_valid_vectors_become_float64_arrays_or_stay_float32() -> None:
    assert check([1, 2.5, -3]) == [1.0, 2.5, -3.0]
    assert check((0.0, 0.0, 1e-3)) == [0.0, 0.0, 1e-3]
    assert check([np.float32(1), np.float64(2), np.int64(3)]) == [1.0, 2.0, 3.0]
    assert all(type(x) is float for x in check(np.arange(3)))
    as_is = np.array([1, 2, 3], dtype=np.float32)
    assert validate_vector(as_is, dims=3, distance="l2") is as_is


@pytest.mark.parametrize(
    "values",
    [[1e20, 0.0, 0.0], [1e-30, 1e-30, 1e-30], [-3e19, 2.0, 1.0]],
    ids=["square-overflows", "square-underflows", "negative-large"],
)
def test_float32_edge_values_take_the_full_check(values: list[float]) -> None:
    # Their sum of squares is inf or 0: the fast path defers to the full check,
    # which accepts them (finite, non-zero, within float32).
    assert check(np.array(values, dtype=np.float32), distance="cosine") == pytest.approx(values)


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        ([1.0, 2.0], "has 2 values, the index expects 3"),
        ([1.0, 2.0, 3.0, 4.0], "has 4 values"),
        ([], "has 0 values"),
        ([1.0, math.nan, 0.0], "not a finite float32"),
        ([math.inf, 0.0, 0.0], "not a finite float32"),
        ([0.0, -math.inf, 0.0], "not a finite float32"),
        ([1e39, 0.0, 0.0], "not a finite float32"),
        (["1", 0.0, 0.0], "str, not a number"),
        ([True, 0.0, 0.0], "bool, not a number"),
        ([None, 0.0, 0.0], "NoneType, not a number"),
        ([[1.0], 0.0, 0.0], "list, not a number"),
        ("abc", "sequence of numbers"),
        (b"abc", "sequence of numbers"),
        (42, "sequence of numbers"),
        (np.zeros((3, 1)), "1-d and numeric"),
        (np.array(["a", "b", "c"]), "1-d and numeric"),
        ([10**400, 0, 0], "not a finite float32"),
    ],
)
def test_invalid_vectors(vector: object, message: str) -> None:
    with pytest.raises(InvalidEmbeddingError, match=message):
        check(vector)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, 2.0], "has 2 values"),
        ([1.0, math.nan, 0.0], "value #1 is nan"),
        ([0.0, 0.0, -math.inf], "value #2 is -inf"),
    ],
)
def test_invalid_float32_arrays(values: list[float], message: str) -> None:
    # float32 arrays (what models return) take a fast path; bad ones still fail.
    with pytest.raises(InvalidEmbeddingError, match=message):
        check(np.array(values, dtype=np.float32))


def test_zero_vector_is_rejected_only_under_cosine() -> None:
    assert check([0.0, 0.0, 0.0], distance="l2") == [0.0, 0.0, 0.0]
    assert check(np.zeros(3, dtype=np.float32), distance="l2") == [0.0, 0.0, 0.0]
    for zero in ([0.0, 0.0, 0.0], np.zeros(3, dtype=np.float32)):
        with pytest.raises(InvalidEmbeddingError, match="COSINE"):
            check(zero, distance="cosine")


def test_position_is_named() -> None:
    with pytest.raises(InvalidEmbeddingError, match="document #4") as info:
        validate_vector([1.0], dims=3, distance="l2", position=4)
    assert info.value.position == 4


def test_default_embedder_knows_its_dims_without_loading_the_model() -> None:
    embedder = DefaultEmbedder()
    assert embedder.dims == 384
    assert isinstance(embedder, Embedder)
    assert embedder._model is None
    assert embedder.embed_many([]).shape == (0, 384)
    assert embedder._model is None


def test_precision_is_checked_and_auto_follows_the_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="precision"):
        DefaultEmbedder(precision="float16")  # type: ignore[arg-type]
    assert DefaultEmbedder().precision == "float32"
    assert DefaultEmbedder(precision="bfloat16").precision == "bfloat16"
    for has, expected in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(embeddings, "cpu_has_bf16", lambda has=has: has)
        assert DefaultEmbedder(precision="auto").precision == expected


def test_cpu_has_bf16_reads_the_flags(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu_has_bf16(str(info)) is False
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert cpu_has_bf16(str(info)) is True
    info.write_text("flags\t\t: fpu amx_bf16 amx_tile\n")
    assert cpu_has_bf16(str(info)) is True
    assert cpu_has_bf16(str(tmp_path / "missing")) is False


def test_python_rows_are_checked_together_or_not_at_all() -> None:
    from redis_docstore._embeddings import checked_rows

    rows = [[0.5, 1.0, 0.0], [2, 3, 4], (0.25, 0.0, 1.0)]
    checked = checked_rows(rows, dims=3, distance="l2")
    assert checked is not None and checked.dtype == np.float64
    assert checked.tolist() == [[0.5, 1.0, 0.0], [2.0, 3.0, 4.0], [0.25, 0.0, 1.0]]
    assert checked_rows([*rows, [0.0, 1.0, True]], dims=3, distance="l2") is None
    assert checked_rows([*rows, [0.0, 1.0]], dims=3, distance="l2") is None
    assert checked_rows([*rows, [0.0, 0.0, 0.0]], dims=3, distance="cosine") is None
    assert checked_rows([*rows, [0.0, 0.0, 0.0]], dims=3, distance="l2") is not None
    assert checked_rows([*rows, [0.0, math.nan, 1.0]], dims=3, distance="l2") is None


def test_a_list_holding_one_vector_is_not_a_vector() -> None:
    with pytest.raises(InvalidEmbeddingError, match="list, not a number"):
        check([[1.0, 2.0, 3.0]])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([10**400], "not a finite float32"),  # an int beyond float64
        ([True], "bool, not a number"),
        ([float("inf")], "not a finite float32"),
        ([3.5e38], "not a finite float32"),  # beyond float32
    ],
)
def test_a_list_of_plain_numbers_takes_the_short_path_only_when_valid(
    values: list[object], message: str
) -> None:
    good = [0.25] * 8
    checked = validate_vector(good, dims=8, distance="l2")
    assert checked.dtype == np.float64 and checked.tolist() == good
    assert validate_vector([1, 2.5, -3] + [0.0] * 5, dims=8, distance="l2").tolist()[:3] == [
        1.0,
        2.5,
        -3.0,
    ]
    with pytest.raises(InvalidEmbeddingError, match=message):
        validate_vector(values + [0.5] * 7, dims=8, distance="l2")
