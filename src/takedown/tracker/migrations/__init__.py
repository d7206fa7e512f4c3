"""Alembic migrations of the tracker's database, shipped with the package
and run by :mod:`takedown.tracker.db` (``takedown db upgrade``), never by
the ``alembic`` command: ``env.py`` takes the connection it is handed."""
