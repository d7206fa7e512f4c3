"""Locky (ransomware, 2016): when its hard-coded servers fail, a bot asks for
the day's DGA names (8 a day, seeded by the date and a per-sample seed) and
posts its encrypted report to the first that answers. The demo attributes a
check-in by the name reached: its rule ``locky-dga-host`` lists the names its
``[[dga]]`` entry sinks. The request path follows early-2016 write-ups of
Locky's POST to /main.php; it is not checked against a sample here, and the
attribution does not use it.

Forcepoint Security Labs, "Locky's New DGA - Seeding the New Domains", 2016
(the DGA; takedown dga show locky).
"""

from takedown.range.families.base import Behaviour, obeys

BEHAVIOUR = Behaviour(
    name="locky",
    transport="http",
    lookup="dga",
    rule="locky-dga-host",
    family="locky",
    source="Forcepoint 2016 (DGA); POST /main.php as in early-2016 write-ups (unverified)",
    checkins_per_session=3.0,
    method="POST",
    path="/main.php",
    body_bytes=128,
    commands=obeys("locky", "stop", "notice"),
)
