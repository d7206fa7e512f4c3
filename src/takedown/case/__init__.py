"""The case: the court order behind an operation (issue 17, docs/case.md).

The ``[case]`` section itself is part of the operation's schema
(:class:`takedown.operation.Case`); this package holds what is done with it:
:mod:`takedown.case.check` holds the operation against the order's
authorities, :mod:`takedown.case.verify` verifies that the seizure took
effect, :mod:`takedown.case.notice` builds the notice to the defendants.
"""
