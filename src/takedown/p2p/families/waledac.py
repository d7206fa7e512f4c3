"""Waledac (Win32/Waledac, 2008-2010), the botnet of Microsoft's Operation b49.

Sources: Microsoft, "Win32/Waledac and Law / Fighting Botnets in Court" (Security
Intelligence Report vol. 9, 2010: tiers, peer-list exchange, fast-flux fallback, the
poisoning plan; the project's seed deck); B. Stock, J. Goebel, M. Engelberth, F. Freiling,
T. Holz, "Walowdac - Analysis of a Peer-to-Peer Botnet" (EC2ND 2009: timestamped
repeater lists, ~55,000 bots a day, ~390,000 in all); J. Calvet, J. Fernandez, P.-M.
Bureau, J.-Y. Marion, "Large-scale malware experiments: why, how, and so what?" (Virus
Bulletin 2010: spammers are ~80% of the botnet, repeaters have public addresses).
"""

from takedown.p2p.model import HOME_MACHINES, HOME_MACHINES_BASIS, FamilyModel, assumed, fact

_SIR = "Microsoft SIR vol. 9 (2010), Win32/Waledac and Law"
_WALOWDAC = "Stock et al., Walowdac (2009)"

MODEL = FamilyModel(
    name="waledac",
    title="Waledac: spammers behind repeaters, upper tiers, fast-flux fallback",
    peer_list=100,
    reply=100,
    exchange_minutes=120,
    tries=5,
    reachable=0.2,
    ranking="newest",
    on_fail="keep",
    tiered=True,
    command_nodes=10,
    fallback="dns",
    fallback_hours=6,
    fallback_peers=100,
    sinkhole_answers=False,
    **HOME_MACHINES,
    round_minutes=20,
    aliases=("waledec",),
    sources=(_SIR, _WALOWDAC, "Calvet et al., Virus Bulletin 2010"),
    basis={
        "peer_list": fact(f"repeaters keep a list of about 100 other repeaters ({_SIR})"),
        "reply": assumed("an update answer carries the repeater's list; taken as the whole list"),
        "exchange_minutes": assumed("a list update every two hours per bot; no published interval found. "
                                     "Hourly doubles the exchanges (a 1M-bot, 14-day b49 run: 111 s instead of 73 s, 2026-11-26) "
                                     "and can be set in a scenario ([family] exchange_minutes = 60)"),
        "tries": assumed("a bot walks its list until a repeater answers; five tries an exchange"),
        "reachable": fact("spammers (private addresses) are about 80% of bots (Calvet et al. 2010; SIR)"),
        "ranking": fact(f"list entries carry timestamps and the freshest are kept ({_WALOWDAC})"),
        "on_fail": assumed("an entry that does not answer stays until fresher entries push it out"),
        "tiered": fact(f"repeaters proxy spammers' requests to the upper tiers ({_SIR})"),
        "command_nodes": assumed("a handful of upper-tier servers; only whether any is up matters here"),
        "fallback": fact(f"when no listed peer answers, hard-coded fast-flux names give repeaters ({_SIR})"),
        "fallback_hours": assumed("six hours (three update cycles) without an answer before the bot turns to DNS"),
        "fallback_peers": assumed("the repeater found through DNS hands over a full list"),
        "sinkhole_answers": fact(f"the poisoned entries point to sinkholes that answer nothing ({_SIR})"),
        **HOME_MACHINES_BASIS,
        "round_minutes": assumed("twenty-minute steps: finer than the exchange interval"),
    },
)
