"""The one exception root of takedown.

Library code raises subclasses of :class:`TakedownError` with a message that
already names the file, line or field at fault. The CLI turns any of them into
``Error: <message>`` and exit status 1, in one place (``takedown.cli.main``).
"""


class TakedownError(Exception):
    """Root of every error takedown reports to a user."""


class OperationError(TakedownError):
    """An operation file, or a list or zone file it names, is invalid."""


class ZoneError(OperationError):
    """A zone master file cannot be loaded."""


class StoreError(TakedownError):
    """The event store cannot be written or read."""


class ServeError(TakedownError):
    """A sensor cannot start (address in use, bad listen address...)."""


class TemplateError(OperationError):
    """A notice or response template (Jinja2) cannot be loaded or rendered;
    the message names the template file and line."""


class RulesError(OperationError):
    """A fingerprint rules file is invalid; the message reads FILE:LINE: reason."""


class EnrichError(TakedownError):
    """Enrichment data (a MaxMind DB, the shipped tables, given ranges) cannot
    be loaded; the message names the file or row at fault."""


class NotifyError(TakedownError):
    """Network-owner reports cannot be built or sent: a bad contacts file
    (FILE:LINE: field: reason), an unwritable directory, an SMTP failure."""


class ReportError(TakedownError):
    """A report cannot be built: a bad period or date, an unwritable output directory."""


class SimError(TakedownError):
    """A bad P2P simulation scenario, family model or parameter; the message
    names the file and line (or option) at fault."""


class RangeError(TakedownError):
    """The emulated range could not run: a bad option, a family without a
    behaviour, a sinkhole that does not answer."""


class QueryError(TakedownError):
    """A SQL query over the events is refused or fails, or an export cannot
    run (a bad kind, date or format, an unwritable output); the message is
    one line (DuckDB's first, for its own errors)."""


class TrackerError(TakedownError):
    """The C&C tracker cannot do what was asked: a bad indicator value or
    status (the message names the file, line or field), a database that
    cannot be opened or is newer than this code, an export that cannot be
    written."""


class ConsoleError(TakedownError):
    """The web console or partner portal cannot do what was asked: a bad user,
    partner or claim (the message names the field), a refused approval, a
    database or secret file that cannot be used, a listener that cannot bind."""


class CaseError(TakedownError):
    """The operation's [case] does not cover what the operation does (takedown case check)."""


class EvidenceError(TakedownError):
    """The evidence manifest cannot be read or written (a malformed line is
    MANIFEST:LINE: reason), or a timestamp authority cannot be reached or refused."""
