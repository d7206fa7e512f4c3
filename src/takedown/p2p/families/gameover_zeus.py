"""GameOver Zeus (P2P Zeus, 2011-2014), the botnet of Operation Tovar (June 2014).

Readable sources found: CERT Polska, "ZeuS - P2P+DGA variant - mapping out and
understanding the threat" (2012-01-04: a P2P network plus a domain generation algorithm
as the two command channels); Symantec, "P2P variant of Zeusbot/Spyeye" (2011-11-28,
quoted on forums.spybot.info: the bot carries a list of peer addresses, peers hand out
the configuration, which holds the URL of the main server, mainly a collector of stolen
data); the FBI's Operation Tovar diagram as described by examiner.com (2014: peers at the
bottom, proxy nodes above them, a server on top); D. Schwarz, "ZeusGameover.py" (Arbor
ASERT, 2013: 20 static peers in the binary's configuration, peers asked for peers over
UDP, the configuration over TCP).

Not readable here (abstract only): D. Andriesse, C. Rossow, B. Stone-Gross,
D. Plohmann, H. Bos, "Highly Resilient Peer-to-Peer Botnets Are Here: An Analysis of
Gameover Zeus" (MALWARE 2013) and Rossow et al., "SoK: P2PWNED" (IEEE S&P 2013). The
peer-list numbers below are the figures recalled from those papers and are marked as
assumptions until someone checks them against the text.
"""

from takedown.p2p.model import HOME_MACHINES, HOME_MACHINES_BASIS, FamilyModel, assumed, fact

_CERTPL = "CERT Polska, ZeuS - P2P+DGA variant (2012-01-04)"
_SYM = "Symantec, P2P variant of Zeusbot/Spyeye (2011-11-28)"
_FBI = "FBI Operation Tovar diagram, as described by examiner.com (2014)"
_ARBOR = "Schwarz, ZeusGameover.py (Arbor ASERT, 2013)"
_ANDRIESSE = "Andriesse et al., Highly Resilient Peer-to-Peer Botnets Are Here (MALWARE 2013)"

MODEL = FamilyModel(
    name="gameover-zeus",
    title="GameOver Zeus: P2P layer, proxy bots in front of the C&C, DGA fallback",
    peer_list=150,
    reply=10,
    exchange_minutes=30,
    tries=5,
    reachable=0.2,
    ranking="newest",
    on_fail="drop",
    tiered=True,
    command_nodes=5,
    fallback="dns",
    fallback_hours=24,
    fallback_peers=20,
    sinkhole_answers=True,
    **HOME_MACHINES,
    round_minutes=10,
    aliases=("zeus-p2p", "p2p-zeus", "goz", "gameover"),
    sources=(_CERTPL, _SYM, _FBI, _ARBOR, _ANDRIESSE, "Rossow et al., SoK: P2PWNED (IEEE S&P 2013)"),
    basis={
        "peer_list": assumed(f"up to 150 peers per list, the figure recalled from {_ANDRIESSE}; the paper's "
                             "text was not readable here, so unverified"),
        "reply": assumed(f"a peer-list reply of up to 10 peers (closest to the asked-for id), recalled from "
                         f"{_ANDRIESSE}; unverified"),
        "exchange_minutes": assumed(f"neighbours checked every 30 minutes, recalled from {_ANDRIESSE}; unverified"),
        "tries": assumed("five entries tried per exchange"),
        "reachable": assumed("no readable NAT share for GameOver; Waledac's measured 20% of bots with public "
                             "addresses (Calvet et al., Virus Bulletin 2010) used as a stand-in"),
        "ranking": assumed("the real list is ordered by XOR distance to the bot's id (Kademlia-like); of the "
                           "engine's rankings, 'newest' comes closest to a list that keeps live entries and "
                           "refills from replies"),
        "on_fail": assumed(f"neighbours that stop answering are removed (recalled from {_ANDRIESSE}, where an entry "
                           "goes after several unanswered checks; the engine drops at the first failure, a harsher "
                           "rule)"),
        "tiered": fact(f"stolen data and commands pass through proxy nodes to a server on top ({_FBI}; {_SYM}: the "
                       "configuration names the main server). Modelled tiered: a bot is commandable while it "
                       "reaches the live P2P layer (which carries the proxy lists) and the back end is up; "
                       "takedown_tier then stands for seizing the proxy/back-end layer, as Tovar did"),
        "command_nodes": assumed("a handful of back-end servers; only whether any is up matters here"),
        "fallback": fact(f"a domain generation algorithm is the second channel when peers cannot be reached "
                         f"({_CERTPL})"),
        "fallback_hours": assumed("a day without any answering peer before the bot turns to the DGA; no "
                                  "published delay found"),
        "fallback_peers": assumed(f"a fallback answer gives 20 peers, the size of the static peer list in the "
                                  f"binary ({_ARBOR})"),
        "sinkhole_answers": assumed("peer-list messages are not signed (only updates are), so a sinkhole can answer "
                                    f"the exchange with sinkhole entries; inferred from {_ARBOR}'s plain peer "
                                    "requests, not read as a statement"),
        **HOME_MACHINES_BASIS,
        "round_minutes": assumed("ten-minute steps: an exchange every third step"),
    },
    notes="The real peer list is Kademlia-like (entries kept by XOR distance to the bot's id, replies are the "
          "peers closest to a requested id); the engine ranks by recency instead. Proxy bots are a selection of "
          "routable bots announced through the P2P layer; the engine treats every reachable bot as a way to the "
          "upper tier. Per-address limits and blacklists that GameOver used against crawlers and sinkholes are "
          "not modelled.",
)
