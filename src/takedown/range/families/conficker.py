"""Conficker: each day a bot asks for names of its DGA (250 a day for A and B)
until one answers, then fetches from it over HTTP. The operation sinks the
day's names ahead of time (the Conficker Working Group's daily registrations),
and attributes a check-in by the name asked for: the demo's rule
``conficker-dga-host`` lists the names its ``[[dga]]`` entry sinks.

Porras, Saidi, Yegneswaran, "An Analysis of Conficker's Logic and Rendezvous
Points", SRI International, 2009 (daily domain list, HTTP rendezvous);
Conficker Working Group, "Lessons Learned", 2011.
"""

from takedown.range.families.base import Behaviour, obeys

BEHAVIOUR = Behaviour(
    name="conficker",
    transport="http",
    lookup="dga",
    rule="conficker-dga-host",
    family="conficker",
    source="Porras et al., SRI 2009 (daily DGA names, HTTP rendezvous)",
    checkins_per_session=3.0,
    method="GET",
    path="/search?q=0",
    user_agent="Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
    commands=obeys("conficker", "stop", "notice"),
)
