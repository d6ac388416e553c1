"""Who is busy during vector ingest: CPU per document of each client and of the server.

``python -m bench.probes.ingest_cpu [N] [REPS]`` (default 20,000 documents, 2
alternating rounds): raw, the store and the async store each ingest the same N
documents into a fresh server; for each, docs/s, the client process's CPU per
document, the server's CPU per document (INFO cpu) and how busy the server's
main thread was (its CPU time over wall time, from /proc).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from bench.corpus import make_corpus
from bench.systems import AsyncStoreSystem, RawRedis, RedisSystem, StoreSystem


def _process_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _thread_cpu(pid: int) -> float:
    """CPU seconds of a process's main thread."""
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(n: int = 20_000, reps: int = 2) -> None:
    """Print one line per ingest, then the medians per system."""
    corpus = make_corpus(n)
    order: list[type[RedisSystem]] = [RawRedis, StoreSystem, AsyncStoreSystem]
    results: dict[str, list[tuple[float, ...]]] = {}
    for rep in range(reps):
        for cls in order if rep % 2 == 0 else order[::-1]:
            system = cls()
            system.setup(corpus.dims)
            if isinstance(system, RawRedis):
                system.batch_size = 100  # what the benchmark's calibration picks
            try:
                assert system.server is not None and system.server.pid is not None
                pid = system.server.pid
                info = system.redis.info("cpu")
                server_before = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
                client_before, main_before = _process_cpu(), _thread_cpu(pid)
                start = time.perf_counter()
                system.ingest_rows(corpus, range(n))
                system.wait_indexed(n)
                wall = time.perf_counter() - start
                client = _process_cpu() - client_before
                busy = (_thread_cpu(pid) - main_before) / wall
                info = system.redis.info("cpu")
                server = float(info["used_cpu_user"]) + float(info["used_cpu_sys"]) - server_before
                row = (n / wall, client / n * 1e6, server / n * 1e6, busy)
                results.setdefault(cls.name, []).append(row)
                print(
                    f"{cls.name:12s} {row[0]:7.0f} docs/s  client {row[1]:5.1f} us/doc  "
                    f"server {row[2]:5.1f} us/doc  server main thread busy {row[3]:.2f}",
                    flush=True,
                )
            finally:
                system.close()
    for name, rows in results.items():
        med = np.median(np.asarray(rows), axis=0)
        print(
            f"median {name:12s} {med[0]:7.0f} docs/s  client {med[1]:5.1f} us/doc  "
            f"server {med[2]:5.1f} us/doc  busy {med[3]:.2f}"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
