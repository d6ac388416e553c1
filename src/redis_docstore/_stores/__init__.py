"""The two public stores: :mod:`.store` puts them together from :mod:`.base` (what both
share, no I/O) and one module of methods per concept (:mod:`.lifecycle`, :mod:`.writes`,
:mod:`.reads`, :mod:`.search`), each holding the sync methods beside their async twins."""
