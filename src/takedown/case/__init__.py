"""The court case an operation carries out (issue 17, docs/case.md).

The ``[case]`` section itself is part of the operation's schema
(:class:`takedown.operation.Case`); this package holds what is done with it:
:mod:`takedown.case.check` holds the operation against the order's authorities.
"""
