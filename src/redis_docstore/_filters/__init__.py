"""Filters: the kinds of field (:mod:`.kinds`), filter expressions and how they
combine (:mod:`.expression`), the conditions on one field and the genre filters
(:mod:`.conditions`), and genre values (:mod:`.genres`)."""
