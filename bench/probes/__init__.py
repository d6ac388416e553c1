"""One-off measurements behind statements in the README (run with ``python -m``)."""
