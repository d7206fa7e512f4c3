"""Orchard (DGA version 3): MD5 of the date, and optionally of a Bitcoin balance.

Sources: J. Bader, "The Domain Generation Algorithm of Orchard v3 - A DGA
Seeded by the Bitcoin Genesis Block" (2022-07,
https://bin.re/blog/a-dga-seeded-by-the-bitcoin-genesis-block/); 360 Netlab's
report on Orchard (2022-08); the reimplementation and example list in
baderj/domain_generation_algorithms (``orchard/``; read to learn the
algorithm, this code is our own). The test matches the first 16 names of
``orchard/example_domains.txt`` (commit 09961a1), the date-seeded names of
2022-09-29, the only published list.

The 32-hex-digit MD5 of "YYYY-MM-DDojena.duckdns.org" gives four 8-digit
labels, each under .com, .net, .org and .duckdns.org. The sample then does the
same with the blockchain.info balance record of the genesis-block address,
which no date can predict: those 16 names are made only when the record's
final balance (satoshi) and transaction count are given as parameters, and
they are not checked against any published output (the list's second half
needs the balance of that day, which is not published).
"""

from __future__ import annotations

import hashlib
from datetime import date

from takedown.dga.base import DgaError, Family, Param

TLDS = ("com", "net", "org", "duckdns.org")
GENESIS_ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


def _from_seed(seed: str) -> list[str]:
    digest = hashlib.md5(seed.encode("ascii")).hexdigest()  # a name generator, not security
    return [f"{digest[k:k + 8]}.{tld}" for k in range(0, 32, 8) for tld in TLDS]


class Orchard(Family):
    def names(self, start: date, *, balance: int, n_tx: int) -> list[str]:
        out = _from_seed(f"{start.isoformat()}ojena.duckdns.org")
        if (balance < 0) != (n_tx < 0):
            raise DgaError("orchard: give both balance and n_tx, or neither")
        if balance >= 0:
            # the sample hashes the compact JSON it gets back; nothing ever leaves this
            # address, so the total received equals the final balance
            record = (f'{{"{GENESIS_ADDRESS}":{{"final_balance":{balance},'
                      f'"n_tx":{n_tx},"total_received":{balance}}}}}')
            out += _from_seed(record)
        return out


FAMILY = Orchard(
    name="orchard",
    seeding="UTC date (16 names); 16 more from the genesis-block address balance, when given",
    period_days=1,
    per_period=16,
    tlds=TLDS,
    params=(
        Param("balance", int, -1, "final balance of the genesis address in satoshi that day (-1: unknown)"),
        Param("n_tx", int, -1, "its transaction count that day (-1: unknown)"),
    ),
    sources=("https://bin.re/blog/a-dga-seeded-by-the-bitcoin-genesis-block/",
             "360 Netlab, report on the Orchard botnet (2022-08), cited by the post above",
             "https://github.com/baderj/domain_generation_algorithms/tree/master/orchard"),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 orchard/example_domains.txt: the 16 date-seeded "
        "names of 2022-09-29 (the only published list); the balance-seeded names are untested",
        "baderj/domain_generation_algorithms@706d867 orchard/example_domains.txt (an older list): the 16 date-seeded names of 2022-07-23 (date found by matching over 2022)",
    ),
    epoch=date(1970, 1, 1),
)
