"""Run a command against a Redis Stack started apart: ``docstore serve`` in the background.

    python .ci/with_server.py COMMAND [ARG ...]

Starts ``docstore serve`` on a throwaway data directory, reads the JSON line it prints
(its URL and pid), runs COMMAND with ``REDIS_URL`` set to that URL, then stops the serve
process by its own pid (SIGTERM: it shuts its server down) and exits with COMMAND's code.
CI uses it to run the integration suite once through ``REDIS_URL`` (the testing plugin's
``url`` backend), the path an application with its own server takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

STARTUP_TIMEOUT = 60.0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    docstore = Path(sys.executable).with_name("docstore")
    with tempfile.TemporaryDirectory(prefix="docstore-ci-") as data:
        serve = subprocess.Popen(
            [str(docstore), "serve", "--data-dir", data],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # our Ctrl-C is not its Ctrl-C: it is stopped below
        )
        try:
            assert serve.stdout is not None
            line = serve.stdout.readline()  # blocks until the server is up (or gone)
            if not line:
                print(f"docstore serve exited with {serve.wait()}", file=sys.stderr)
                return 1
            info = json.loads(line)
            print(f"[with_server] docstore serve pid {serve.pid}, server pid {info['pid']}")
            env = {**os.environ, "REDIS_URL": info["url"]}
            return subprocess.call(argv, env=env)
        finally:
            serve.terminate()  # by its pid; it stops its redis-server by that one's pid
            try:
                serve.wait(timeout=STARTUP_TIMEOUT)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
