"""The operations of both stores, each written once as a flow (see :mod:`redis_docstore._effects`).

A flow is a plain function of the store's :class:`~redis_docstore._ops.state.StoreState`
and the operation's arguments; it validates, yields effects, and returns the
result. The stores call them directly and hand them to their runner
(:mod:`redis_docstore._runners`), which performs the effects::

    return self._runner.run(writes.load(self._state, documents, skip_unchanged=False)).ids

Modules, by concept: ``state`` (what the operations share), ``meta`` (the
store's meta hash), ``lifecycle`` (open, check, wait for, drop the index),
``filtering`` (filter expressions, cached), ``embedding`` (texts to vectors,
cached), ``reads``, ``writes``, ``bulk`` (update and delete by filter), ``expiry``
(a stored document's TTL), ``spec`` (a search's options, validated once),
``search``, ``recommend`` (by example) and ``migration`` (``reembed``).
"""
