"""Sality v3 (2008-), the file infector whose superpeers spread signed URL packs.

Sources: L. L. Grätz, "Botmaster Attribution in Large-Scale P2P Botnets" (BSc thesis,
Universität Hamburg, 2019; text in github.com/LarsLeo/BachelorThesis, paper/main.tex),
which restates S. Karuppayah, "Advanced Monitoring in P2P Botnets" (Springer, 2018) and
N. Falliere, "Sality: Story of a Peer-to-Peer Viral Network" (Symantec, 2011):
superpeers keep up to 1,000 neighbours, each with a last-online time and a GoodCount; a
membership-maintenance cycle every 40 minutes probes each neighbour with a hello
(GoodCount up on an answer, down on a time-out); a neighbour-list request is answered
with one randomly chosen well-rated entry and is only sent while the list holds fewer
than 980 entries; low-GoodCount entries are cleaned out once the list holds 500 or more;
URL packs carry a sequence number and spread peer to peer. N. Falliere, "The Sality
Botnet" (Symantec blog, 2010-05-14): only publicly reachable peers are ever exchanged.
"""

from takedown.p2p.model import HOME_MACHINES, HOME_MACHINES_BASIS, FamilyModel, assumed, fact

_GRATZ = "Grätz, Botmaster Attribution in Large-Scale P2P Botnets (U Hamburg, 2019), after Karuppayah (2018)"
_FALLIERE10 = "Falliere, The Sality Botnet (Symantec, 2010)"
_FALLIERE11 = "Falliere, Sality: Story of a Peer-to-Peer Viral Network (Symantec, 2011)"

MODEL = FamilyModel(
    name="sality",
    title="Sality v3: superpeers rate neighbours by GoodCount, one peer per list request",
    peer_list=1000,
    reply=1,
    exchange_minutes=40,
    tries=64,
    reachable=0.2,
    ranking="goodcount",
    on_fail="keep",
    tiered=False,
    command_nodes=10,
    fallback="hardcoded",
    fallback_hours=6,
    fallback_peers=50,
    sinkhole_answers=True,
    **HOME_MACHINES,
    round_minutes=20,
    aliases=("sality-v3", "sality.v3"),
    sources=(_GRATZ, "Karuppayah, Advanced Monitoring in P2P Botnets (Springer, 2018)", _FALLIERE11, _FALLIERE10),
    basis={
        "peer_list": fact(f"superpeers keep a neighbour list of up to 1,000 entries ({_GRATZ})"),
        "reply": fact(f"a neighbour-list request is answered with one randomly chosen entry ({_GRATZ})"),
        "exchange_minutes": fact(f"the membership-maintenance cycle runs every 40 minutes ({_GRATZ}); modelled as "
                                 "one list exchange per cycle (the real cycle also probes every neighbour with a "
                                 "hello, which only moves GoodCounts)"),
        "tries": assumed(f"a cycle probes each neighbour in turn (fact: {_GRATZ}), so a bot walks its list "
                         "until peers answer; 64 is the engine's cap, not a Sality number"),
        "reachable": assumed(f"only publicly reachable peers are exchanged ({_FALLIERE10}) but no readable share; "
                             "Waledac's measured 20% (Calvet et al., Virus Bulletin 2010) used as a stand-in"),
        "ranking": fact(f"GoodCount reputation: up on an answered hello, down on a time-out; low scores are "
                        f"cleaned out ({_GRATZ})"),
        "on_fail": fact(f"a silent neighbour loses GoodCount rather than being removed at once; removal comes "
                        f"with the clean-up ({_GRATZ}); the engine removes an entry at a score of -3"),
        "tiered": fact(f"no server tier: URL packs with sequence numbers spread between superpeers ({_GRATZ}, "
                       f"after {_FALLIERE11})"),
        "command_nodes": assumed("ten botmaster-run superpeers inject URL packs; how the botmaster injects is "
                                 f"itself unknown ({_GRATZ} compares three guesses)"),
        "fallback": assumed("a new bot starts from a peer list shipped with the infection; no DNS channel"),
        "fallback_hours": assumed("six hours (nine cycles) without any answer"),
        "fallback_peers": assumed("50 peers from the shipped list"),
        "sinkhole_answers": fact(f"Sality evicts neighbours that do not respond, so sensors must answer the "
                                 f"protocol to stay listed, and do ({_GRATZ}, sensors)"),
        **HOME_MACHINES_BASIS,
        "round_minutes": assumed("twenty-minute steps: an exchange every second step"),
    },
    notes="Only superpeers (reachable bots) hold lists that others learn; non-routable bots are modelled as askers "
          "only. The engine scores an entry on the one exchange per cycle, not on a hello to every neighbour, "
          "so GoodCounts move more slowly than in Sality; its clean-up threshold (score -3) stands in for Sality's "
          "list-size-dependent clean-up (only from 500 entries).",
)
