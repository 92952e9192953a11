"""Persistence: SQLAlchemy models and the repositories, the only code that writes SQL.

Every repository module names its functions with the same verbs. Arguments come in one
order: the session, then the owner (``user_id``), then the row's id or key.

Reading:

- ``get(session, id, *, lock=False)``: a row by primary key, whoever owns it.
- ``owned(session, user_id, id, *, lock=False)``: a row of this owner; None for anyone else's.
- ``by_<key>(session, key, *, lock=False)``: a row by another unique key (``by_email``,
  ``by_name``); for a list of keys (``by_receipts``, ``by_users``), a dict by key.
- ``<name>_many(...)``: the same as ``<name>`` for a list of ids, as a dict by id, missing
  ones left out (``get_many``, ``owned_many``).
- ``get_all(session)``, ``owned_all(session, user_id, ...)``: every row, or every row of an
  owner, in display order.
- ``page(session, [user_id,] ..., first, after)``: a keyset page.
- ``<part>s_of(session, parent_ids)``: rows of a secondary table grouped by their parent's
  id (``items_of``, ``images_of``, ``days_of``).

``lock=True`` reads with SELECT ... FOR UPDATE, for the rest of the transaction.

Writing:

- ``add(session, row_or_values)``: inserts; returns the row as stored.
- ``save(session, row, **values)``: sets the values and flushes (bumping ``version`` where
  the table has one); returns the row.
- ``remove(session, row)``: deletes; ``remove_many(session, keys)`` for a list of keys.

A secondary table of a module takes the same verbs with its name: ``get_image``,
``add_image``, ``remove_image``, ``save_settings``, ``add_identity``, ``get_token``,
``get_ocr``, ``save_ocr`` (it upserts: the cache is keyed by content), ``save_push``;
``count_<part>s`` counts its rows (``count_images``, ``count_holders``, ``count_failures``).

Anything else is a domain verb, with its arguments in the same order: ``check_in``,
``grant``, ``revoke``, ``rotate``, ``take``, ``publish``, ``record``, ``claim_push``,
``schedule_deletion`` and ``done``, queries such as ``spending_by`` or ``stale_pending``.
"""
