"""What a P2P botnet family model declares, each value with where it comes from.

A model is a set of numbers and choices the engine (:mod:`takedown.p2p.engine`)
and the plain reference (tests/harness/p2p_reference.py) run with: peer-list
size, what a reply carries, how often a bot exchanges, the share of bots
reachable from the Internet, how lists are ranked, what a bot does when no
peer answers, and where commands come from. Every field has a ``basis``
entry: a published fact with its source, or an assumption marked as such
(``assumed(...)``), so a planner reading ``takedown sim families`` knows which
numbers to argue with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from takedown.errors import SimError

__all__ = ["HOME_MACHINES", "HOME_MACHINES_BASIS", "Basis", "FamilyModel", "SimError", "assumed", "fact"]


@dataclass(frozen=True)
class Basis:
    text: str
    assumed: bool = False

    def __str__(self) -> str:
        return ("ASSUMED: " if self.assumed else "") + self.text


def fact(text: str) -> Basis:
    """A value taken from a published source (named in ``text``)."""
    return Basis(text)


def assumed(text: str) -> Basis:
    """A value chosen for the model where no source gives it (``text`` says why this value)."""
    return Basis(text, assumed=True)


RANKINGS = ("newest", "goodcount")
ON_FAIL = ("keep", "drop")
FALLBACKS = ("dns", "hardcoded", "none")


@dataclass(frozen=True)
class FamilyModel:
    name: str
    title: str
    #: entries in a bot's peer list
    peer_list: int
    #: entries a peer returns when asked for its list
    reply: int
    #: minutes between two peer exchanges of one online bot
    exchange_minutes: float
    #: entries a bot tries, one after the other, until one answers, in one exchange
    tries: int
    #: share of bots reachable from the Internet (not behind NAT): only these appear in peer lists
    reachable: float
    #: "newest": lists keep the most recently seen entries (timestamps; Waledac, Kelihos,
    #: ZeroAccess); "goodcount": entries earn a score per answered contact and new ones
    #: only take free or failing slots (Sality)
    ranking: str
    #: what a bot does with an entry that did not answer: "keep" it or "drop" it (goodcount
    #: lists always keep it and lower its score instead)
    on_fail: str
    #: True: reachable bots proxy to an upper tier that issues commands (Waledac's repeaters);
    #: False: commands spread peer to peer from a few botmaster-run peers
    tiered: bool
    #: upper-tier servers (tiered) or botmaster-run command peers (not tiered)
    command_nodes: int
    #: where a bot turns when no peer answers: "dns" (names, e.g. fast flux), "hardcoded" addresses, "none"
    fallback: str
    #: hours without an answer from any peer before the fallback fires
    fallback_hours: float
    #: peers one fallback answer gives
    fallback_peers: int
    #: True if a sinkhole can answer the peer exchange with a valid list (then a poisoned
    #: bot still sees its P2P layer "work"); False if it can only stay silent (Waledac)
    sinkhole_answers: bool
    #: mean hours a day an infected machine is on; share that is always on
    online_hours: float
    always_on: float
    #: new infections per day (share of the starting population); clean-ups per day (share of the live bots)
    new_per_day: float
    cleanup_per_day: float
    #: the engine's default time step
    round_minutes: float
    aliases: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    basis: dict[str, Basis] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        problems = []
        if self.ranking not in RANKINGS:
            problems.append(f"ranking must be one of {', '.join(RANKINGS)}")
        if self.on_fail not in ON_FAIL:
            problems.append(f"on_fail must be one of {', '.join(ON_FAIL)}")
        if self.fallback not in FALLBACKS:
            problems.append(f"fallback must be one of {', '.join(FALLBACKS)}")
        for name in ("peer_list", "reply", "tries", "command_nodes", "fallback_peers"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        for name in ("reachable", "always_on"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} is a share between 0 and 1")
        for name in ("exchange_minutes", "round_minutes", "fallback_hours", "online_hours"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be positive")
        if self.ranking == "goodcount" and self.on_fail != "keep":
            problems.append('with ranking "goodcount" an entry is dropped by its score (at -3): on_fail must be "keep"')
        if self.tries > 64:
            problems.append("tries is at most 64")
        if problems:
            raise SimError(f"family {self.name}: " + "; ".join(problems))

    def parameters(self) -> list[tuple[str, object, Basis | None]]:
        """(field, value, basis) for every modelled number and choice."""
        skip = {"name", "title", "aliases", "sources", "basis", "notes"}
        return [(f.name, getattr(self, f.name), self.basis.get(f.name)) for f in fields(self) if f.name not in skip]


#: The population's daily rhythm and churn, the same for every shipped family: no
#: family-specific figures were found, so each model uses these (all assumptions).
HOME_MACHINES = {"online_hours": 10.0, "always_on": 0.1, "new_per_day": 0.01, "cleanup_per_day": 0.005}
HOME_MACHINES_BASIS = {
    "online_hours": assumed("home machines on about 10 hours a day"),
    "always_on": assumed("one machine in ten never switched off"),
    "new_per_day": assumed("1% new infections a day"),
    "cleanup_per_day": assumed("0.5% of live bots cleaned a day before any campaign"),
}
