"""Storm (Peacomm, Nuwar, 2007-2008): a botnet on the Overnet (Kademlia) DHT.

Sources: J. Stewart, "Storm Worm DDoS Attack" (SecureWorks, 2007): the P2P component
speaks eDonkey/Overnet, carries a hard-coded list of over 100 peers stored in
wincom.ini, and uses the P2P network to find the URL of its next stage instead of
hard-coding it. T. Holz, M. Steiner, F. Dahl, E. Biersack, F. Freiling, "Measurements
and Mitigation of Peer-to-Peer-based Botnets: A Case Study on Storm Worm" (USENIX LEET
2008; only the abstract and introduction were readable here) and P. Porras, H. Saïdi,
V. Yegneswaran, "A Multi-perspective Analysis of the Storm (Peacomm) Worm" (SRI, 2007;
introduction only) for the overall design.

How the model maps a DHT: a bot's Overnet routing table is its peer list; a lookup
(asking a contact for the contacts closest to a key) is an exchange; commands found by
searching keys the botmaster publishes are approximated as reachable along chains of
live routing-table entries to the botmaster's publishing nodes. Kademlia keeps
long-lived contacts and lets a new one in only when a bucket has room or an old contact
stops answering, which is what the engine's "goodcount" ranking does, so Storm uses it.
"""

from takedown.p2p.model import HOME_MACHINES, HOME_MACHINES_BASIS, FamilyModel, assumed, fact

_STEWART = "Stewart, Storm Worm DDoS Attack (SecureWorks, 2007)"
_HOLZ = "Holz et al., Measurements and Mitigation of Peer-to-Peer-based Botnets: Storm Worm (LEET 2008)"

MODEL = FamilyModel(
    name="storm",
    title="Storm: Overnet/Kademlia routing tables, commands found by key search",
    peer_list=200,
    reply=20,
    exchange_minutes=10,
    tries=3,
    reachable=0.2,
    ranking="goodcount",
    on_fail="keep",
    tiered=False,
    command_nodes=10,
    fallback="hardcoded",
    fallback_hours=1,
    fallback_peers=100,
    sinkhole_answers=True,
    **HOME_MACHINES,
    round_minutes=10,
    aliases=("peacomm", "nuwar", "storm-worm"),
    sources=(_STEWART, _HOLZ, "Porras et al., A Multi-perspective Analysis of the Storm (Peacomm) Worm (SRI, 2007)"),
    basis={
        "peer_list": assumed("a Kademlia routing table of k=20 contacts per bucket over about ten populated "
                             "buckets; Storm's own table size was not found in readable text"),
        "reply": assumed("a lookup answer of k=20 contacts, Kademlia's bucket size; Overnet's own reply size "
                         "was not found in readable text"),
        "exchange_minutes": assumed("a lookup or routing-table refresh every 10 minutes; Storm searches for its "
                                    "keys repeatedly, but no readable source gives the interval"),
        "tries": assumed("Kademlia asks a few contacts in parallel (alpha=3); modelled as three tries"),
        "reachable": assumed("no readable share of bots reachable from the Internet; Waledac's measured 20% "
                             "(Calvet et al., Virus Bulletin 2010) used as a stand-in"),
        "ranking": assumed("Kademlia keeps the long-lived contacts and admits a new one only into room or in "
                           "place of a contact that stopped answering: the engine's goodcount rule"),
        "on_fail": assumed("a contact that stops answering loses standing and is replaced after repeated "
                           "failures, Kademlia-style, rather than at once"),
        "tiered": assumed("in the Overnet phase the next-stage URL and commands are found by searching keys "
                          f"in the P2P network ({_STEWART}); modelled as spreading from botmaster-run publishing "
                          "nodes. Storm's later proxy tier (late 2007) is not modelled"),
        "command_nodes": assumed("ten botmaster-run nodes publish the command keys"),
        "fallback": fact(f"a hard-coded peer list ships with the bot in wincom.ini ({_STEWART})"),
        "fallback_hours": assumed("an hour without any answering contact before the bot re-seeds from the file"),
        "fallback_peers": fact(f"the hard-coded list holds over 100 peers ({_STEWART}); 100 taken"),
        "sinkhole_answers": assumed(f"Overnet has no authentication, so a sinkhole (Sybil) can answer lookups with "
                                    f"its own contacts; {_HOLZ} disrupted Storm this way, but only its abstract "
                                    "was readable here"),
        **HOME_MACHINES_BASIS,
        "round_minutes": assumed("ten-minute steps, one lookup per step"),
    },
    notes="What the model cannot express: (1) XOR-distance structure: real routing tables keep contacts by "
          "distance to the bot's id and lookups return the contacts closest to a key, iterating towards it; here "
          "a list is a flat set and an exchange asks one random entry; (2) key search and publication: Storm bots "
          "search keys that change every day (\"daily generated hashes\" in secondary summaries; Holz et al. give "
          "the derivation) under which controllers publish commands, and that is the channel Holz et al. "
          "disrupted (their abstract: two ways to cut controller-to-bot communication); here a bot is "
          "commandable when a chain of live entries reaches a publishing node, and poisoning acts on routing "
          "tables, not on keys; (3) attacks on the key space (polluting or eclipsing keys) have no strategy; (4) "
          "Storm's "
          "late-2007 tier of proxy bots and HTTP controllers; (5) Storm's DDoS against its analysts.",
)
