"""Nugache (2006-2007): an early encrypted P2P botnet over TCP, no central server.

Readable sources found: Websense Security Labs alert 1083 (2006-05-01: the bot opens a
back door on TCP port 8 and connects to infected peers rather than a static server, over
an obfuscated channel); F-Secure weblog (2006-05-01: a peer-to-peer network via TCP port
8); malwarehelp.org news 3543 (2006-05-03, after B. Eckman's analysis on a security
mailing list: the bot uses a seed list of 22 Internet addresses to join the peer-to-peer
network).

Not readable here: S. Stover, D. Dittrich, J. Hernandez, S. Dietrich, "Analysis of the
Storm and Nugache Trojans: P2P Is Here" (USENIX ;login:, December 2007), the main
description of Nugache's peer handling; the list size below is the figure recalled from
it and is marked as an assumption.
"""

from takedown.p2p.model import HOME_MACHINES, HOME_MACHINES_BASIS, FamilyModel, assumed, fact

_WEBSENSE = "Websense Security Labs alert 1083 (2006-05-01)"
_ECKMAN = "malwarehelp.org news 3543 (2006-05-03), after B. Eckman's analysis"
_STOVER = "Stover et al., Analysis of the Storm and Nugache Trojans: P2P Is Here (;login:, 2007)"

MODEL = FamilyModel(
    name="nugache",
    title="Nugache: encrypted TCP peer links, commands flooded between peers",
    peer_list=100,
    reply=10,
    exchange_minutes=30,
    tries=5,
    reachable=0.2,
    ranking="newest",
    on_fail="keep",
    tiered=False,
    command_nodes=5,
    fallback="hardcoded",
    fallback_hours=6,
    fallback_peers=22,
    sinkhole_answers=True,
    **HOME_MACHINES,
    round_minutes=10,
    aliases=("nugache-a",),
    sources=(_WEBSENSE, "F-Secure weblog, Nugache (2006-05-01)", _ECKMAN, _STOVER),
    basis={
        "peer_list": assumed(f"up to 100 peers, the figure recalled from {_STOVER}; not verified in readable text"),
        "reply": assumed("a peer hands over ten of its peers when two bots connect"),
        "exchange_minutes": assumed("a new peer connection (and list exchange) every 30 minutes; Nugache kept "
                                    "long-lived TCP links, no published interval found"),
        "tries": assumed("five listed peers tried before giving up until the next attempt"),
        "reachable": assumed("only bots that accept inbound TCP connections can serve as peers; no readable share, "
                             "Waledac's measured 20% (Calvet et al., Virus Bulletin 2010) used as a stand-in"),
        "ranking": assumed("recently connected peers kept first; the real replacement rule is not known here"),
        "on_fail": assumed("a peer that does not accept a connection stays listed until pushed out"),
        "tiered": fact(f"no central server: the bot connects to infected peers for its commands ({_WEBSENSE})"),
        "command_nodes": assumed("a few peers the botmaster connects to in order to inject signed commands"),
        "fallback": fact(f"the bot ships with a seed list of Internet addresses to join the network ({_ECKMAN})"),
        "fallback_hours": assumed("six hours without any answering peer before re-seeding"),
        "fallback_peers": fact(f"the seed list holds 22 addresses ({_ECKMAN})"),
        "sinkhole_answers": assumed("a sinkhole that speaks the (obfuscated, not authenticated) peer protocol can "
                                    "answer connections with its own peer entries"),
        **HOME_MACHINES_BASIS,
        "round_minutes": assumed("ten-minute steps: an exchange every third step"),
    },
    notes="What the model cannot express: Nugache keeps a few long-lived, encrypted TCP connections open and "
          "floods signed commands over them; the engine has no connection state, only periodic one-shot "
          "exchanges, and command reach is taken as a chain of live list entries to a command peer. The early "
          "versions' fixed port 8 (a trivial blocking target) and the later random ports are not modelled; nor is "
          "the per-link key exchange that made sinkhole answers harder to forge than the model assumes.",
)
