"""Hybrid search: vector nearness and query words, ranked in one ``FT.AGGREGATE``.

RediSearch 2.10 has no ``FT.HYBRID``; this module builds the one-command
equivalent and parses its reply. No I/O here: the store sends what
:func:`build_hybrid_command` returns with ``client.execute_command(*args)`` and
hands the (RESP3) reply to :func:`parse_hybrid_reply`.

How a query runs
----------------
1. **Candidates.** The ``k`` documents nearest to the query vector (``KNN k``)
   among those matching the filter. With ``require_text=True`` only documents
   whose ``content`` holds at least one query word take part; otherwise the
   words are optional (RediSearch's ``~`` operator): every document matching
   the filter can be a candidate, and the words only raise its score.
2. **Scores.** For each candidate::

       hybrid_score = alpha * vector_similarity + (1 - alpha) * text_score

   both terms in ``[0, 1]`` (see below), so ``alpha`` really is the share of
   the vector in the ranking: 1.0 ranks by vector alone, 0.0 by words alone.
3. **Order.** By ``hybrid_score`` descending, then distance ascending, then
   key, at most ``k``.

vector_similarity
-----------------
From the distance RediSearch reports, in ``[0, 1]``, 1 for the query vector
itself, monotone (closer is never lower):

* ``cosine`` (distance ``1 - cos``, in ``[0, 2]``): ``1 - d / 2``, i.e.
  ``(1 + cos) / 2`` -- the same number as :attr:`Hit.similarity`.
* ``ip`` (distance ``1 - dot``): the same ``1 - d / 2 = (1 + dot) / 2``,
  clamped to ``[0, 1]``. For unit vectors -- what an IP index is for, since
  ``1 - dot`` is only a distance for them -- this is exactly the cosine
  mapping. Unnormalized vectors whose dot product leaves ``[-1, 1]`` saturate
  at 0 or 1 instead of leaving the range.
* ``l2`` (RediSearch reports the *squared* Euclidean distance, in
  ``[0, inf)``): ``1 / (1 + d)``. It needs no assumption about the vectors'
  scale; for unit vectors (``d = 2 - 2 cos``, in ``[0, 4]``) it runs from
  1 down to 0.2.

text_score
----------
RediSearch's ``BM25STD`` score (``@__score``; the scorer redisvl's
``AggregateHybridQuery`` uses), squashed into ``[0, 1]`` as
``tanh(score / 4)``. Raw BM25STD is unbounded above: per matched word it is
``IDF * f * (k1 + 1) / (f + k1 * (1 - b + b * len / avglen))`` with ``k1 = 1.2``,
``b = 0.5`` and ``IDF = ln(1 + (N - n + 0.5) / (n + 0.5))``, summed over the
query words a document holds -- so it grows with the number of matched words
and with ``ln N``: about 1-2 per word in a ten-document index, up to ~30 per
rare word in a million-document one. Added raw to a similarity in ``[0, 1]`` it
would swamp the vector term whatever ``alpha`` says. ``tanh(x / 4)`` is what
Redis 8.4's ``BM25STD.TANH`` scorer computes (default factor 4); doing it in an
``APPLY`` works on older servers as well. Unlike a per-query min-max
normalization it keeps a weak best match weak, and it needs no second pass (an
aggregation cannot see the whole candidate set's maximum without collapsing
its rows). A document without any query word scores 0.

Only the query words count: the filter is wrapped as ``-(-(filter))``, which
matches the same documents, because BM25STD scores every clause of the query,
tags included (a genre tag alone added 0.6-0.74 in a small index, less for
documents with more genres), and ignores ``$weight`` attributes.

Query words
-----------
The text is split like RediSearch splits documents when indexing them (at
whitespace, control characters and ``,.<>{}[]"':;!@#$%^&*()-+=~|/\\?`` and
the backtick), lower-cased, stripped of English stopwords (redisvl's list,
which includes RediSearch's default ones) and of duplicates (a repeated word
would count twice). What remains holds no character the query syntax gives a
meaning to, so user text is never query syntax; the words are OR-ed:
``@content:(w1 | w2)``. (RediSearch 2.10's indexer splits at spaces and tabs
but not at newlines: a document's ``"end\nstart"`` is one token, which no
query word matches.)

A text with no word left is refused (:class:`InvalidQueryError`), not sent:
RediSearch drops stopwords from a query, and before a ``KNN`` a clause left
empty restricts nothing -- ``(@content:(the))=>[KNN ...]`` takes every
document as a candidate, which would silently defeat ``require_text``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from redisvl.utils.stopwords import get_stopwords

from redis_docstore._commands.search import DISTANCE_ALIAS, return_paths, vector_bytes
from redis_docstore._embeddings import VectorLike
from redis_docstore._errors import InvalidQueryError
from redis_docstore._schema import CONTENT_FIELD, EMBEDDING_FIELD, DataType, Distance

__all__ = [
    "HYBRID_SCORE_ALIAS",
    "LOAD_FIELDS",
    "STOPWORDS",
    "TEXT_SCORE_ALIAS",
    "VECTOR_SIMILARITY_ALIAS",
    "build_hybrid_command",
    "build_hybrid_query_string",
    "query_words",
    "text_score_expression",
    "vector_similarity_expression",
]

VECTOR_PARAM: Final = "vector"
VECTOR_SIMILARITY_ALIAS: Final = "vector_similarity"
TEXT_SCORE_ALIAS: Final = "text_score"
HYBRID_SCORE_ALIAS: Final = "hybrid_score"
TEXT_SCORER: Final = "BM25STD"
# The divisor of tanh(score / factor); Redis 8.4's BM25STD.TANH default.
TANH_FACTOR: Final = 4
KEY_FIELD: Final = "__key"
# JSON paths as in query.RETURN_FIELDS: "$.genre" comes back as the JSON text
# of the whole array.
LOAD_FIELDS: Final = ("@" + KEY_FIELD, "$.content", "$.genre", "$.metadata", "@" + DISTANCE_ALIAS)

# RediSearch's default stopwords; redisvl's English list already holds them
# all, the union only makes sure of it.
_REDISEARCH_STOPWORDS = frozenset(
    {
        "a", "is", "the", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if",
        "in", "into", "it", "no", "not", "of", "on", "or", "such", "that", "their", "then",
        "there", "these", "they", "this", "to", "was", "will", "with",
    }
)  # fmt: skip
STOPWORDS: Final = frozenset(get_stopwords("english")) | _REDISEARCH_STOPWORDS

# RediSearch's token separators (ToksepMap_g) plus the backslash, which escapes
# in documents and queries alike, all whitespace and all control characters.
_SEPARATORS = re.compile(r"[\s\x00-\x1f\x7f-\x9f,./(){}\[\]:;~!@#$%^&*\-=+|'`\"<>?\\]+")
# What a word may still hold: a final guard, whatever the separators above.
_SAFE_WORD = re.compile(r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]+")


def query_words(text: str) -> list[str]:
    """Split query text into the words to search for.

    Args:
        text: The user's text, any characters.

    Returns:
        The words, lower-cased, without stopwords and duplicates, in order of
        first appearance. Each holds letters, digits, ``_`` and non-ASCII
        characters only.

    Raises:
        InvalidQueryError: ``text`` is not a string, or holds no word that is
            not a stopword.
    """
    if not isinstance(text, str):
        raise InvalidQueryError(f"query text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise InvalidQueryError("query text must not be empty")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidQueryError("query text is not valid text (a lone surrogate)") from None
    words: dict[str, None] = {}
    for token in _SEPARATORS.split(text):
        word = token.lower()
        if word and word not in STOPWORDS:
            if not _SAFE_WORD.fullmatch(word):  # pragma: no cover - the split prevents it
                raise InvalidQueryError(f"cannot search for {word!r}")
            words[word] = None
    if not words:
        raise InvalidQueryError(f"query text {text!r} holds only stopwords or punctuation")
    return list(words)


def build_hybrid_query_string(
    words: Sequence[str], *, k: int, filter_expression: str = "*", require_text: bool = False
) -> str:
    """The query string of a hybrid search (see the module doc).

    Args:
        words: Words from :func:`query_words` (never raw user text).
        k: The number of nearest candidates.
        filter_expression: A RediSearch expression, ``"*"`` for none.
        require_text: Whether a candidate must hold a word.

    Returns:
        E.g. ``(~@content:(cat | dog) -(-(@genre:{pets})))=>[KNN 5 @embedding
        $vector AS vector_distance]``.
    """
    # "_" is a word character, but a lone "_" is a syntax error unescaped.
    escaped = [word.replace("_", "\\_") for word in words]
    text_clause = f"@{CONTENT_FIELD}:({' | '.join(escaped)})"
    if not require_text:
        text_clause = "~" + text_clause
    clauses = [text_clause]
    if filter_expression != "*":
        # A double negation matches what the filter matches, but adds nothing
        # to the BM25STD score.
        clauses.append(f"-(-({filter_expression}))")
    knn = f"KNN {k} @{EMBEDDING_FIELD} ${VECTOR_PARAM} AS {DISTANCE_ALIAS}"
    return f"({' '.join(clauses)})=>[{knn}]"


def _clamp01(expression: str) -> str:
    # min(max(x, 0), 1) with the functions APPLY has: (|x| - |x - 1| + 1) / 2.
    return f"(abs({expression}) - abs({expression} - 1) + 1) / 2"


def vector_similarity_expression(distance: Distance) -> str:
    """The ``APPLY`` expression turning ``@vector_distance`` into a similarity in [0, 1]."""
    d = f"@{DISTANCE_ALIAS}"
    if distance == "l2":
        # 1 / (1 + max(d, 0)): a squared distance is never negative, but rounding
        # must not lift a similarity above 1.
        return f"1 / (1 + ({d} + abs({d})) / 2)"
    return _clamp01(f"(1 - {d} / 2)")


def text_score_expression() -> str:
    """The ``APPLY`` expression for ``tanh(@__score / 4)``, in [0, 1].

    Written as ``1 - 2 / (exp(2x) + 1)``, which saturates at 1 (``exp``
    overflows to ``inf``) instead of turning into ``inf / inf``.
    """
    return f"1 - 2 / (exp(@__score * {2 / TANH_FACTOR!r}) + 1)"


def build_hybrid_command(
    index: str,
    vector: VectorLike,
    text: str,
    *,
    k: int,
    filter_expression: str = "*",
    distance: Distance = "l2",
    alpha: float = 0.7,
    require_text: bool = False,
    candidates: int | None = None,
    fields: Sequence[str] | None = None,
    datatype: DataType = "float32",
) -> list[Any]:
    """Build the ``FT.AGGREGATE`` command of a hybrid (vector + words) search.

    See the module doc for the candidates and the scores.

    Args:
        index: The index name.
        vector: The query vector (the index's dims; sent as float32).
        text: The query text; any characters (it is never query syntax).
        k: The number of nearest candidates, and of results at most.
        filter_expression: A RediSearch expression restricting the documents,
            as the filters module renders it; ``"*"`` for none.
        distance: The index's metric: ``"l2"`` (squared Euclidean, as
            RediSearch reports it), ``"cosine"`` or ``"ip"``.
        alpha: The vector's weight in ``[0, 1]``; ``1 - alpha`` is the words'.
        require_text: Keep only candidates whose content holds a query word;
            by default the words only raise the score.
        candidates: How many nearest documents to score (KNN), at least
            ``k``; the words can only lift a document from among them.
            Defaults to ``k``.
        fields: The stored fields to load (names of
            :data:`~redis_docstore._commands.search.FIELD_PATHS`); ``None``
            for all. The key and the distance are always loaded. Every
            candidate is loaded before the ``k`` best are kept, so leaving
            out the content saves ``candidates`` document reads.
        datatype: The index's vector type (``"float32"`` or ``"float16"``).

    Returns:
        The arguments for ``client.execute_command(*args)``, from
        ``"FT.AGGREGATE"`` to ``"DIALECT", "2"``.

    The options are trusted: the search spec
    (:func:`redis_docstore._ops.spec.make_search_spec`) and the query vector
    (``validate_vector``) were checked once, where the search was made.

    Raises:
        InvalidQueryError: The text is not a string, empty or only stopwords
            (:func:`query_words`).
    """
    pool = k if candidates is None else max(k, candidates)
    alpha = float(alpha)
    words = query_words(text)
    blob = vector_bytes(vector, datatype)
    query = build_hybrid_query_string(
        words, k=pool, filter_expression=filter_expression.strip(), require_text=require_text
    )
    load = (
        LOAD_FIELDS
        if fields is None
        else ("@" + KEY_FIELD, *return_paths(fields), "@" + DISTANCE_ALIAS)
    )
    return [
        "FT.AGGREGATE",
        index,
        query,
        "SCORER",
        TEXT_SCORER,
        "ADDSCORES",
        "LOAD",
        str(len(load)),
        *load,
        "APPLY",
        vector_similarity_expression(distance),
        "AS",
        VECTOR_SIMILARITY_ALIAS,
        "APPLY",
        text_score_expression(),
        "AS",
        TEXT_SCORE_ALIAS,
        "APPLY",
        f"{alpha!r} * @{VECTOR_SIMILARITY_ALIAS} + (1 - {alpha!r}) * @{TEXT_SCORE_ALIAS}",
        "AS",
        HYBRID_SCORE_ALIAS,
        "SORTBY",
        "6",
        f"@{HYBRID_SCORE_ALIAS}",
        "DESC",
        f"@{DISTANCE_ALIAS}",
        "ASC",
        f"@{KEY_FIELD}",
        "ASC",
        "MAX",
        str(k),
        "PARAMS",
        "2",
        VECTOR_PARAM,
        blob,
        "DIALECT",
        "2",
    ]
