"""Kelihos.A (Hlux, 2010-2011), sinkholed by Kaspersky Lab with Microsoft in September 2011.

Sources: T. Werner, "Botnet Shutdown Success Story: How Kaspersky Lab Disabled the
Hlux/Kelihos Botnet" (Kaspersky Lab / Securelist, 2011-09-28; read in the
dataprotectioncenter.com copy): controllers, routers and workers, "an architecture
similar to the one used for the Waledac botnet"; routers are infected machines with
public IP addresses that host proxy services and take part in a fast-flux collective;
controllers distribute the commands; Microsoft disabled the domains while Kaspersky
sinkholed the peer-to-peer layer (3,000 hosts a minute reaching the sinkhole).
Kaspersky Lab press release of 2012-03-28 (read in the technoworldinc.com copy): the
first botnet had about 40,000 infected systems, and Kelihos.B was "built using the same
coding" as Kelihos.A, which is why the Kelihos.B list sizes are borrowed below.

What was not readable here: the peer-list size, reply size and exchange interval of
Kelihos.A itself; those values are the Kelihos.B model's, marked as assumptions.
"""

from takedown.p2p.model import HOME_MACHINES, HOME_MACHINES_BASIS, FamilyModel, assumed, fact

_KL2011 = "Werner, Botnet Shutdown Success Story: How Kaspersky Lab Disabled the Hlux/Kelihos Botnet (Kaspersky, 2011)"
_KL2012 = "Kaspersky Lab press release on the second Hlux/Kelihos takedown (2012-03-28)"

MODEL = FamilyModel(
    name="kelihos-a",
    title="Kelihos.A: workers behind router nodes that proxy to controllers",
    peer_list=500,
    reply=250,
    exchange_minutes=10,
    tries=5,
    reachable=0.15,
    ranking="newest",
    on_fail="keep",
    tiered=True,
    command_nodes=5,
    fallback="dns",
    fallback_hours=2,
    fallback_peers=50,
    sinkhole_answers=True,
    **HOME_MACHINES,
    round_minutes=10,
    aliases=("hlux-a", "kelihos.a", "hlux"),
    sources=(_KL2011, _KL2012),
    basis={
        "peer_list": assumed("500 entries as in the kelihos-b model: Kelihos.B reuses Kelihos.A's code "
                             f"({_KL2012}); no readable source gives Kelihos.A's own list size"),
        "reply": assumed("250 entries per exchange, borrowed from the kelihos-b model for the same reason"),
        "exchange_minutes": assumed("a list exchange every 10 minutes, as in the kelihos-b model; no published "
                                    "interval found"),
        "tries": assumed("five entries tried per exchange before giving up until the next"),
        "reachable": assumed("about one bot in seven is a router; routers are the bots with public addresses "
                             f"({_KL2011}) but no readable source gives their share"),
        "ranking": assumed("entries ranked by last-seen time, as in Waledac, whose design Kelihos follows "
                           f"({_KL2011}); the ranking rule itself was not found in readable text"),
        "on_fail": assumed("silent entries age out rather than being removed"),
        "tiered": fact(f"routers host proxy services and controllers distribute the commands, like Waledac's "
                       f"repeaters and upper tiers ({_KL2011})"),
        "command_nodes": assumed("a handful of controllers; only whether any is up matters here"),
        "fallback": fact(f"the bots also relied on domains (routers join a fast-flux collective), which "
                         f"Microsoft disabled while the P2P layer was sinkholed ({_KL2011}); that the names are used "
                         "only when no peer answers is assumed"),
        "fallback_hours": assumed("two hours without any answer, as in the kelihos-b model"),
        "fallback_peers": assumed("50 routers from a fallback answer"),
        "sinkhole_answers": assumed("the sinkhole spoke the peer protocol well enough to keep bots connecting "
                                    f"(3,000 hosts a minute, {_KL2011}); that it answered exchanges with lists is "
                                    "inferred, not read"),
        **HOME_MACHINES_BASIS,
        "round_minutes": assumed("ten-minute steps, one exchange per step"),
    },
    notes="Kelihos.A's protocol numbers were not readable in any stored source; they are copied from the "
          "kelihos-b model, which Kaspersky says shares Kelihos.A's code. Unlike kelihos-b this model is tiered: "
          "Kaspersky's 2011 write-up describes routers proxying for controllers, Waledac-style.",
)
