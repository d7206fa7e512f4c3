"""Kelihos.B (Hlux.B, 2012), taken over by peer-list poisoning alone in March 2012.

Sources: Kaspersky Lab / CrowdStrike / Honeynet Project announcements of the Kelihos.B
sinkholing (2012-03-28: more than 109,000 bots reached the sinkhole in five days, the
issue's figure); T. Werner, "The Inside Story of the Kelihos.B Takedown" (CrowdStrike,
RSA 2012) and C. Rossow et al., "SoK: P2PWNED - Modeling and Evaluating the Resilience of
Peer-to-Peer Botnets" (IEEE S&P 2013: Kelihos peer lists of 500 entries, 250 per
exchange, ranked by last-seen time; sinkholes that answer the exchange).
"""

from takedown.p2p.model import HOME_MACHINES, HOME_MACHINES_BASIS, FamilyModel, assumed, fact

_SOK = "Rossow et al., SoK: P2PWNED (IEEE S&P 2013)"

MODEL = FamilyModel(
    name="kelihos-b",
    title="Kelihos.B: router nodes and workers exchanging timestamped lists",
    peer_list=500,
    reply=250,
    exchange_minutes=10,
    tries=5,
    reachable=0.15,
    ranking="newest",
    on_fail="keep",
    tiered=False,
    command_nodes=10,
    fallback="dns",
    fallback_hours=2,
    fallback_peers=50,
    sinkhole_answers=True,
    **HOME_MACHINES,
    round_minutes=10,
    aliases=("hlux-b", "kelihos.b"),
    sources=(_SOK, "Werner, The Inside Story of the Kelihos.B Takedown (CrowdStrike, 2012)",
             "Kaspersky Lab, Botnet Shutdown Success Story (2012-03-28)"),
    basis={
        "peer_list": fact(f"up to 500 peers per list ({_SOK})"),
        "reply": fact(f"250 entries per peer-list exchange ({_SOK})"),
        "exchange_minutes": assumed("a list exchange every 10 minutes"),
        "tries": assumed("five entries tried per exchange before giving up until the next"),
        "reachable": assumed("about one bot in seven is a reachable router node"),
        "ranking": fact(f"entries ranked by last-seen timestamp ({_SOK})"),
        "on_fail": assumed("silent entries age out"),
        "tiered": assumed("Kaspersky (2012-03-28 FAQ) describes controllers, routers and workers like "
                          "Waledac's; but jobs and controller lists travel inside the peer exchange, so a "
                          "router whose list is all sinkholes gets none: modelled as spreading peer to peer "
                          "from botmaster-fed peers (kelihos-a is modelled tiered)"),
        "command_nodes": assumed("ten botmaster-run peers inject jobs"),
        "fallback": assumed("names as a last resort, used only when no peer answers"),
        "fallback_hours": assumed("two hours without any answer"),
        "fallback_peers": assumed("50 peers from a fallback answer"),
        "sinkhole_answers": fact("the sinkholes answered the exchange with lists of sinkholes, so bots kept "
                                 f"talking to them ({_SOK}; Werner 2012)"),
        **HOME_MACHINES_BASIS,
        "round_minutes": assumed("ten-minute steps, one exchange per step"),
    },
)
