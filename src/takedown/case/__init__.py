"""The case: the court order behind an operation, the appendix of seized
names, the verification that a seizure took effect (docs/case.md)."""
