"""The ``docstore`` command line, a client of the public API.

- :mod:`~redis_docstore._cli.commands`: the commands, their options and ``main``.
- :mod:`~redis_docstore._cli.files`: bulk input and output (JSON Lines, CSV), no I/O to Redis.
- :mod:`~redis_docstore._cli.where`: the ``--field`` and ``--where`` grammar.
- :mod:`~redis_docstore._cli.progress`: the progress line.
"""
