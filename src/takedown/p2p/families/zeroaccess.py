"""ZeroAccess (Sirefef) v2, 2012-2013: the P2P layer Symantec partly sinkholed.

Comparison with the published ZeroAccess super-node graphs (Haas, Karuppayah et al., "On the
Resilience of P2P-based Botnet Graphs", IEEE CNS 2016; github.com/iBigQ/botnet-graphs: 120-215
reachable nodes, median in-degree 82-103, one weakly connected component, diameter 4) is not
claimed: the model keeps silent entries until fresher ones push them out, so in so small a
population every list fills with every node; see docs/sim.md.

Sources: A. Neville, R. Gibb, "ZeroAccess Indepth" (Symantec, 2013-10) and Symantec's
announcement of 2013-09-30 (500,000 of 1.9 million bots detached; list of 256 peers, one
peer contacted a second, 16 peers in a reply, a new bot sinkholed in about five minutes
on average); J. Wyke, "The ZeroAccess Botnet" (Sophos, 2012).
"""

from takedown.p2p.model import HOME_MACHINES, HOME_MACHINES_BASIS, FamilyModel, assumed, fact

_SYM = "Neville & Gibb, ZeroAccess Indepth (Symantec, 2013)"

MODEL = FamilyModel(
    name="zeroaccess",
    title="ZeroAccess v2: flat P2P, 256-peer lists refreshed every second",
    peer_list=256,
    reply=16,
    exchange_minutes=1 / 60,
    tries=1,
    reachable=0.1,
    ranking="newest",
    on_fail="keep",
    tiered=False,
    command_nodes=10,
    fallback="hardcoded",
    fallback_hours=1,
    fallback_peers=16,
    sinkhole_answers=True,
    **HOME_MACHINES,
    round_minutes=1,
    aliases=("sirefef", "zeroaccess-v2"),
    sources=(_SYM, "Wyke, The ZeroAccess Botnet (Sophos, 2012)", "Kindsight Security Labs, Malware Report Q3 2012"),
    basis={
        "peer_list": fact(f"256 peers per list ({_SYM})"),
        "reply": fact(f"a reply carries 16 peers ({_SYM})"),
        "exchange_minutes": fact(f"one peer asked every second ({_SYM})"),
        "tries": fact(f"one peer asked per second, the next one a second later ({_SYM})"),
        "reachable": fact("about 200,000 super nodes among over 2 million infected users, i.e. ~10% "
                          "(Kindsight Security Labs Q3 2012 malware report, as reported by Techworld; its Q2 "
                          "report's 1.2 million super nodes contradicts it)"),
        "ranking": fact(f"the most recently heard peers are kept first ({_SYM}; Wyke 2012)"),
        "on_fail": assumed("silent entries age out"),
        "tiered": fact(f"no server tier: files and commands spread between peers ({_SYM})"),
        "command_nodes": assumed("ten botmaster-run peers seed new commands"),
        "fallback": assumed("the binary's own peer list is the last resort"),
        "fallback_hours": assumed("an hour without any answer"),
        "fallback_peers": assumed("16 hard-coded peers"),
        "sinkhole_answers": fact(f"sinkholes answered with sinkhole peers ({_SYM})"),
        **HOME_MACHINES_BASIS,
        "round_minutes": assumed("one-minute steps, 60 exchanges per online bot each"),
    },
)
