"""ZeuS-style banking bots: C&C names from the operation's seized list, check-ins
as POST /gate.php (some over HTTPS), attributed by the shipped rule
``zeus-gate-post``; the ClientHello of an HTTPS check-in by the demo's
``zeus-seized-sni`` rule (the server name is a seized ZeuS name).

Work cycle (config.bin, then POST of encrypted reports to gate.php):
Binsalleeh et al., "On the analysis of the Zeus botnet crimeware toolkit", PST
2010. Names seized and published as blocklists: abuse.ch ZeuS Tracker; the
2012 civil action against ZeuS C&C servers (Microsoft, Operation b71).
"""

from takedown.range.families.base import Behaviour, obeys

BEHAVIOUR = Behaviour(
    name="zeus",
    transport="http",
    lookup="seized",
    rule="zeus-gate-post",
    family="zeus",
    source="Binsalleeh et al., PST 2010 (POST of encrypted reports to gate.php)",
    checkins_per_session=6.0,
    tls_share=0.03,
    tls_rule="zeus-seized-sni",
    tls_family="zeus",
    method="POST",
    path="/gate.php",
    body_bytes=96,
    commands=obeys("zeus", "stop", "notice"),
)
