"""The ``docstore`` command line, a client of the public API.

- :mod:`~redis_docstore._cli.commands`: the commands and ``main``.
- :mod:`~redis_docstore._cli.changes`: delete, update, expire, persist (changes in place).
- :mod:`~redis_docstore._cli.options`: global, filter and search options and their defaults.
- :mod:`~redis_docstore._cli.files`: bulk input and output (JSON Lines, CSV), no I/O to Redis.
- :mod:`~redis_docstore._cli.where`: the ``--field`` and ``--where`` grammar.
- :mod:`~redis_docstore._cli.progress`: the progress line.
"""
