"""The evidence chain of an operation (docs/evidence.md): an append-only,
hash-chained manifest of the files its storage holds, timestamped by an
RFC 3161 authority, and its verification."""
