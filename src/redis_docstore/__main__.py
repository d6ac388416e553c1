"""``python -m redis_docstore`` runs the ``docstore`` command line."""

from redis_docstore.cli import main

raise SystemExit(main())
