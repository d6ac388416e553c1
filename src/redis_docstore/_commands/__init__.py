"""Redis commands, built and parsed, with no I/O: :mod:`.search` builds the search,
count and key-lookup commands, :mod:`.hybrid` the hybrid (vector + BM25) aggregate,
:mod:`.writes` the expiry commands, the in-place changes of a change by filter and its
key listing, and :mod:`.replies` parses every reply they bring back."""
