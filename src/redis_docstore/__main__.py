"""``python -m redis_docstore`` runs the ``docstore`` command line."""

from redis_docstore._cli.commands import main

raise SystemExit(main())
