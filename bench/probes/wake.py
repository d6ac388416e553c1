"""Why a search right after ~10 ms of other work is slow here, whoever sends it.

``python -m bench.probes.wake``: raw ``FT.SEARCH`` (EF_RUNTIME 100, 5,000
documents) timed warm (back to back), after 10 ms of ``time.sleep``, after a
10 ms Python busy loop, and after a ``PING`` sent on another connection 1 ms /
0.3 ms before the search to wake the server; each blocking on the reply and
busy-polling the socket instead. p50 / p90 in ms.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import redis

from bench.corpus import make_corpus
from bench.systems import RawRedis, _documents
from redis_docstore import DocumentStore

N = 5_000


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def main() -> None:
    """Print the p50 and p90 of each way of searching."""
    corpus = make_corpus(N)
    raw = RawRedis()
    url = raw.start_server()
    try:
        with DocumentStore(url, index="wake") as store:
            store.add(_documents(corpus, range(N)))
            s = store.settings
            query = raw.prebuilt_for(s.name, s.key_prefix, ef_runtime=100)
        conn: Any = redis.Redis.from_url(url, protocol=2).connection_pool.get_connection()
        pinger: Any = redis.Redis.from_url(url, protocol=2).connection_pool.get_connection()

        def blocking(i: int) -> Any:
            conn.send_command(*query.args(corpus.vectors[i], None))
            return conn.read_response()

        def polling(i: int) -> Any:
            conn.send_command(*query.args(corpus.vectors[i], None))
            while not select.select([conn._sock], [], [], 0)[0]:
                pass
            return conn.read_response()

        def woken(ahead: float, search: Callable[[int], Any]) -> Callable[[int], Any]:
            def run(i: int) -> Any:
                time.sleep(0.010 - ahead)
                pinger.send_command("PING")
                _busy(ahead)
                start = time.perf_counter_ns()
                search(i)
                pinger.read_response()
                return time.perf_counter_ns() - start

            return run

        def after(pause: Callable[[float], None], search: Callable[[int], Any]) -> Any:
            def run(i: int) -> Any:
                pause(0.010)
                start = time.perf_counter_ns()
                search(i)
                return time.perf_counter_ns() - start

            return run

        def warm(search: Callable[[int], Any]) -> Callable[[int], Any]:
            def run(i: int) -> Any:
                search(i)
                start = time.perf_counter_ns()
                search(i)
                return time.perf_counter_ns() - start

            return run

        ways: dict[str, Callable[[int], Any]] = {
            "warm, blocking": warm(blocking),
            "warm, polling": warm(polling),
            "after 10 ms sleep, blocking": after(time.sleep, blocking),
            "after 10 ms sleep, polling": after(time.sleep, polling),
            "after 10 ms busy loop, blocking": after(_busy, blocking),
            "after 10 ms busy loop, polling": after(_busy, polling),
            "PING 1 ms ahead, blocking": woken(0.001, blocking),
            "PING 0.3 ms ahead, blocking": woken(0.0003, blocking),
            "PING 1 ms ahead, polling": woken(0.001, polling),
        }
        times: dict[str, list[int]] = {name: [] for name in ways}
        for _ in range(3):
            for i in range(200):
                for name, way in ways.items():
                    times[name].append(way(i))
        for name, ns in times.items():
            p50, p90 = np.percentile(ns, [50, 90]) / 1e6
            print(f"{name:34s} p50 {p50:.3f} ms  p90 {p90:.3f} ms")
    finally:
        raw.close()


if __name__ == "__main__":
    main()
