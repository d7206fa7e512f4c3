"""Fuzz the fingerprint-rules loader takedown.net.fingerprints.RuleSet.load:
the input is the rules file's bytes (TOML). A crash is any exception but
RulesError (a TakedownError). A loaded rule set is matched against one
HTTP request, one TLS hello's fields and one TCP payload, so that its
compiled patterns run too."""

import sys

import atheris

with atheris.instrument_imports(include=["takedown"]):
    from takedown.errors import TakedownError
    from takedown.net.fingerprints import RuleSet
    from takedown.net.http import RequestParser

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import main, scratch  # noqa: E402

PATH = scratch("rules") / "rules.toml"
REQUEST = RequestParser().feed(
    b"POST /gate.php?id=1 HTTP/1.1\r\nHost: c2.example\r\nUser-Agent: Bot/1.0\r\n"
    b"Content-Length: 5\r\n\r\nid=42"
)[0]


def TestOneInput(data: bytes) -> None:
    PATH.write_bytes(data)
    try:
        rules = RuleSet.load(PATH)
    except TakedownError:
        return
    rules.match_http(REQUEST, port=80, ja3=None, ja4=None)
    rules.match_tls(sni="c2.example", ja3="e7d705a3286e19ea42f587b344ee6865", ja4="t13d1516h2_8daaf6152771_e5627efa2ab1", port=443)
    rules.match_tcp(b"\x00\x01hello", port=4444)


if __name__ == "__main__":
    main(TestOneInput)
