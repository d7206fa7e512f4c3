"""The C&C tracker (docs/tracker.md): indicators of C&C servers, their status
and its history, in a relational store (SQLAlchemy: SQLite by default,
PostgreSQL); the ways in (abuse.ch feeds, the operation, the sinkhole's
events), checking, and the blocklists and feeds others load (RPZ, Suricata,
abuse.ch CSV/JSON and plain lists, STIX 2.1, MISP, Atom)."""
