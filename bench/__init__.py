"""The redis-docstore benchmark suite (``make bench``; ``python -m bench --help``).

Not a test suite: it measures this store (sync and async), raw redis-py,
plain redisvl and Chroma on one deterministic corpus, in one run, and writes
``bench/results/``. Modules: :mod:`bench.corpus` (data and ground truth),
:mod:`bench.systems` (the systems), :mod:`bench.measure` (timing, recall),
:mod:`bench.text` (the model), :mod:`bench.report` (JSON, markdown, plots),
:mod:`bench.run` (the command line).
"""
