"""The case (issue 17, docs/case.md): the court's order declared with the
operation, and what is built from it: the appendix of seized names by
registry, seizure verification, notices, evidence."""
