"""Tinba (TinyBanker, Zusy): names chained from a hardcoded seed string and domain.

Sources: J. Bader, "New Top Level Domains for Tinba's DGA" (2015,
https://johannesbader.ch/2015/04/new-top-level-domains-for-tinbas-dga/);
garage4hackers.com entry b=3086 (first reversing of the DGA); Sophos
Troj/Tinba-EL analysis; seeds collected in baderj/domain_generation_algorithms
``tinba/dga.py``. The test matches ``tinba/example_domains.txt`` (commit
09961a1), made with seed ``jc74FlUna852Ji9o`` and domain ``blackfreeqazyio.cc``.

The date plays no part: each sample carries a seed string, a first domain and a
TLD list, and walks one fixed chain from them.
"""

from __future__ import annotations

from datetime import date

from takedown.dga.base import DgaError, Family, Known, Param

_LABEL_LEN = 12


class Tinba(Family):
    def names(self, start: date, *, seed: str, domain: str, tlds: str, count: int) -> list[str]:
        tld_list = [t.strip().lstrip(".") for t in tlds.split(",") if t.strip()]
        if not tld_list:
            raise DgaError("tinba: tlds must name at least one TLD")
        if len(domain) < _LABEL_LEN + 1:
            raise DgaError(f"tinba: first domain must have at least {_LABEL_LEN + 1} characters")
        key = [ord(c) for c in seed[:16].ljust(16, "\0")]
        out = [domain]
        prev = domain  # the next label is derived from the last name tried
        for _ in range(count):
            acc = key[15]
            # the malware bumps this counter on every rejected byte, for this label only
            bump = sum(key)
            label = []
            for i in range(_LABEL_LEN):
                while True:
                    acc = (((acc + ord(prev[i])) ^ (bump & 0xFF)) + ord(prev[i + 1])) & 0xFF
                    if ord("b") <= acc <= ord("y"):  # 'a' and 'z' are never produced
                        label.append(chr(acc))
                        break
                    bump += 1
            base = "".join(label)
            out.extend(f"{base}.{t}" for t in tld_list)
            prev = out[-1]
        return out


_KNOWN = (
    ("jc74FlUna852Ji9o", "blackfreeqazyio.cc", "com,net,in,ru",
     "https://johannesbader.ch/2015/04/new-top-level-domains-for-tinbas-dga/"),
    ("oGkS3w3sGGOGG7oc", "ssrgwnrmgrxe.com", "com", "http://garage4hackers.com/entry.php?b=3086"),
    ("yqokqFC2TPBFfJcG", "watchthisnow.xyz", "pw,us,xyz,club",
     "https://www.sophos.com/en-us/threat-center/threat-analyses/viruses-and-spyware/Troj~Tinba-EL/detailed-analysis.aspx"),
    ("j193HsnW72Yqns7u", "j193hsne720uie8i.cc", "com,net,biz,org",
     "baderj/domain_generation_algorithms commit c7d154a (tinba/dga.py)"),
)

FAMILY = Tinba(
    name="tinba",
    uses_date=False,  # the names do not depend on the date: computed once per parameter set
    aliases=("tinybanker", "zusy"),
    seeding="hardcoded seed string and first domain only; the date is ignored",
    period_days=1,
    per_period=1 + 100 * 4,
    tlds=("com", "net", "in", "ru", "pw", "us", "xyz", "club", "biz", "org"),
    params=(
        Param("seed", str, "jc74FlUna852Ji9o", "16-character seed string from the sample"),
        Param("domain", str, "blackfreeqazyio.cc", "first (hardcoded) domain, which starts the chain"),
        Param("tlds", str, "com,net,in,ru", "comma-separated TLDs, each appended to every label"),
        Param("count", int, 100, "number of labels to generate"),
    ),
    known=tuple(
        Known(params={"seed": s, "domain": d, "tlds": t}, note=f"sample seeded with {s}", source=src)
        for s, d, t, src in _KNOWN
    ),
    sources=(
        "https://johannesbader.ch/2015/04/new-top-level-domains-for-tinbas-dga/",
        "http://garage4hackers.com/entry.php?b=3086",
        "https://github.com/baderj/domain_generation_algorithms/tree/master/tinba",
    ),
    verified_against=(
        "baderj/domain_generation_algorithms@09961a1 tinba/example_domains.txt: all 401 names, "
        "seed jc74FlUna852Ji9o, domain blackfreeqazyio.cc, TLDs com,net,in,ru, 100 labels "
        "(the only published list; the other known seeds are untested)",
        "andrewaeva/DGA@3e930a7 dga_wordlists/tinba.txt: all 100000 names, seed oGkS3w3sGGOGG7oc, first domain ssrgwnrmgrxe.com, com; 360netlab/DGA issues #15 and #21 (sandbox names; seeds oGkS3w3sGGOGG7oc with justforyoumybab.com, jw72Gsmf620ohwy7 with i8274g1yxi9orjuy.cc)",
    ),
    epoch=date(1970, 1, 1),
)
