from __future__ import annotations

import pytest
import redis.exceptions

from redis_docstore._connection import finish_replies, translate
from redis_docstore._errors import IncompleteResultsError, StoreConnectionError, StoreError

CALLBACKS = {"INFO": lambda reply: {"parsed": reply}}


def test_finish_replies_applies_redis_py_callbacks_by_command_name() -> None:
    commands = [("INFO", "memory"), ("FT.SEARCH", "idx", "*")]
    replies = finish_replies(commands, ["used_memory:1", [0]], CALLBACKS, allow_errors=False)
    assert replies == [{"parsed": "used_memory:1"}, [0]]


def test_finish_replies_raises_the_first_error_reply() -> None:
    first = redis.exceptions.ResponseError("first")
    second = redis.exceptions.ResponseError("second")
    commands = [("JSON.SET", "a"), ("JSON.SET", "b"), ("JSON.SET", "c")]
    with pytest.raises(redis.exceptions.ResponseError, match="first"):
        finish_replies(commands, ["OK", first, second], CALLBACKS, allow_errors=False)


def test_finish_replies_can_hand_error_replies_back() -> None:
    error = redis.exceptions.ResponseError("no such index")
    commands = [("FT.INFO", "idx"), ("INFO", "memory")]
    replies = finish_replies(commands, [error, "x"], CALLBACKS, allow_errors=True)
    assert replies == [error, {"parsed": "x"}]


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (redis.exceptions.ConnectionError("gone"), StoreConnectionError),
        (redis.exceptions.TimeoutError("slow"), StoreConnectionError),
        (redis.exceptions.ResponseError("Timeout limit was reached"), IncompleteResultsError),
        (redis.exceptions.ResponseError("Unknown index name"), StoreError),
    ],
)
def test_translate(exc: Exception, kind: type[StoreError]) -> None:
    error = translate(exc, "searching")
    assert type(error) is kind
    assert str(error).startswith("searching: ")
