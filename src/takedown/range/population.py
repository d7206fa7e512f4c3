"""An emulated infected population, seeded, with addresses from real allocations.

Each bot gets a country from the mix (default: Rustock's first week at
Microsoft's sinkhole, millions of hits: US 55.8, FR 13.7, TR 13.4, CA 11.4,
IN 7.3, BR 7.1 ... CN 0.42, CL 0.50, DK 0.53, NO 0.58; the rest of the
traffic, assumed 25%, spread evenly over the 30 other countries with the
most IPv4 addresses), then an IPv4 address drawn uniformly from that
country's real allocations (the GeoLite2 country ranges shipped in
geoip2fast, weighted by size), all distinct, in announced space of end
users' networks (:data:`NOT_END_USER_ASNS`). Its AS is what the shipped
enrichment data says for that address, so the truth and the report use one
source. Each bot also gets a family from a mix, a UTC
offset from its country, a daily window of activity and a clean-up day
(exponential, Rustock-like: about 44% fewer bots in week 8 than in week 1).
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geoip2fast
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from takedown.enrich import Enricher
from takedown.errors import RangeError

#: Rustock, week 1 at the sinkhole, millions of hits (Microsoft, 2011).
RUSTOCK_WEEK1 = {"US": 55.8, "FR": 13.7, "TR": 13.4, "CA": 11.4, "IN": 7.3, "BR": 7.1,
                 "CN": 0.42, "CL": 0.50, "DK": 0.53, "NO": 0.58}
#: The rest of the traffic, spread over other countries (an assumption: the
#: report names only the top and bottom of its ranking).
OTHER_SHARE = 0.25
#: ... evenly over this many: the countries with the most IPv4 addresses not
#: named (so each gets more than the named bottom four, as in the report,
#: where CN, CL, DK and NO were the countries with the least traffic).
OTHER_COUNTRIES = 30
#: Standard UTC offsets (hours) of the named countries' most populous zone;
#: other countries: 0 (an assumption; only the daily rhythm depends on it).
UTC_OFFSET = {"US": -5, "FR": 1, "TR": 3, "CA": -5, "IN": 5.5, "BR": -3, "CN": 8, "CL": -4, "DK": 1, "NO": 1}


#: Networks where the range puts no bot: infected machines are end users'
#: PCs, not the US military's or the big clouds' address space, which is large
#: enough (whole /8s) to crowd the ISPs out of a draw weighted by size.
#: Unannounced space (no AS in the shipped data) is left out too.
NOT_END_USER_ASNS = {
    749: "US DoD", 721: "DoD Network Information Center",
    16509: "Amazon", 14618: "Amazon", 8075: "Microsoft", 15169: "Google", 396982: "Google Cloud",
    31898: "Oracle Cloud", 45102: "Alibaba Cloud", 13335: "Cloudflare",
}


@dataclass(frozen=True)
class Population:
    ip: np.ndarray  # uint32 IPv4
    cc: np.ndarray  # ISO country code (str)
    asn: np.ndarray  # int64, -1 where the shipped data has none
    family: np.ndarray  # str
    utc_offset: np.ndarray  # hours (float)
    active_start: np.ndarray  # minute of the UTC day the bot's daily window opens
    active_minutes: np.ndarray  # length of the window
    cleaned_day: np.ndarray  # first day (from the start, 0-based) the bot no longer checks in

    def __len__(self) -> int:
        return int(self.ip.size)

    def ip_strings(self) -> pa.Array:
        return ip_strings(self.ip)


def ip_strings(ips: np.ndarray) -> pa.Array:
    """Dotted quads of uint32 addresses."""
    octets = np.asarray(ips, np.uint32).astype(">u4").view(np.uint8).reshape(-1, 4)
    parts = [pa.array(octets[:, i]).cast(pa.string()) for i in range(4)]
    return pc.binary_join_element_wise(*parts, ".")


def country_ranges() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IPv4 (first, last, country) of every range in geoip2fast's GeoLite2 country data."""
    path = Path(geoip2fast.__file__).with_name("geoip2fast.dat.gz")
    with gzip.open(path, "rb") as f:
        _version, _info, _total, db = pickle.load(f)
    _index, names, first_ips, cc_ids, netlens = db
    firsts = np.concatenate([np.asarray(c, dtype=np.uint64) for c in first_ips])
    lens = np.concatenate([np.asarray(c, dtype=np.uint64) for c in netlens])
    ids = np.concatenate([np.asarray(c, dtype=np.int64) for c in cc_ids])
    codes = np.array([n.split(":", 1)[0] for n in names])
    keep = (ids >= 16) & (lens <= 32)  # the first 16 names are private/reserved blocks
    firsts, lens, ids = firsts[keep], lens[keep], ids[keep]
    lasts = firsts + (np.uint64(1) << (np.uint64(32) - lens)) - np.uint64(1)
    return firsts, lasts, codes[ids]


def country_weights(mix: dict[str, float], others: list[str], other_share: float) -> dict[str, float]:
    """``mix`` plus ``other_share`` of the total spread evenly over ``others``."""
    named = sum(mix.values())
    weight = dict(mix)
    rest = [c for c in others if c not in mix]
    for c in rest:
        weight[c] = named * other_share / (1 - other_share) / len(rest)
    return weight


def addresses(bots: int, rng: np.random.Generator, mix: dict[str, float] = RUSTOCK_WEEK1,
              other_share: float = OTHER_SHARE, other_countries: int | None = OTHER_COUNTRIES,
              accept: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(distinct IPv4 addresses as uint32, their countries) of ``bots`` hosts;
    ``other_countries=None`` spreads ``other_share`` over every other country.
    ``accept(ips) -> mask``: an address it refuses is drawn again in the same
    country (so the mix holds), uniformly over the space it accepts."""
    firsts, lasts, ccs = country_ranges()
    sizes = (lasts - firsts + np.uint64(1)).astype(np.float64)
    codes, where = np.unique(ccs, return_inverse=True)
    space = np.bincount(where, weights=sizes)
    if other_countries is None:
        others = codes.tolist()
    else:
        others = [c for c in codes[np.argsort(-space, kind="stable")].tolist() if c not in mix][:other_countries]
    weight = country_weights(mix, others, other_share)
    cc_list = [c for c in weight if (ccs == c).any()]
    p = np.array([weight[c] for c in cc_list])
    per_cc = rng.multinomial(int(bots * 1.02) + 1000, p / p.sum())
    ips, owners = [], []
    for c, n in zip(cc_list, per_cc):
        if n == 0:
            continue
        sel = np.flatnonzero(ccs == c)
        w = sizes[sel] / sizes[sel].sum()
        got: list[np.ndarray] = []
        want = n
        for _ in range(100):  # bounded: a country whose space is nearly all refused fails below
            pick = sel[rng.choice(sel.size, size=want, p=w)]
            off = (rng.random(want) * sizes[pick]).astype(np.uint64)
            drawn = (firsts[pick] + off).astype(np.uint32)
            if accept is not None:
                drawn = drawn[accept(drawn)]
            got.append(drawn)
            want -= drawn.size
            if want == 0 or accept is None:
                break
        if want:
            raise RangeError(f"country {c}: too little accepted address space to draw {n} hosts")
        ips.append(np.concatenate(got))
        owners.append(np.full(n, c))
    ip = np.concatenate(ips)
    cc = np.concatenate(owners)
    ip, first = np.unique(ip, return_index=True)  # distinct hosts (a repeat keeps its first country)
    cc = cc[first]
    order = rng.permutation(ip.size)[:bots]
    return ip[order], cc[order]


def build(bots: int, seed: int, *, families: dict[str, float] | None = None, days: int = 56,
          mix: dict[str, float] = RUSTOCK_WEEK1, enricher=None) -> Population:
    """``bots`` bots, seeded. ``families``: family -> weight (default one "rustock" family)."""

    rng = np.random.default_rng(seed)
    enricher = enricher or Enricher.default()

    def asn_of(ips: np.ndarray) -> np.ndarray:
        info = enricher.lookup(ip_strings(ips))
        return np.asarray(info.column("asn").fill_null(-1).to_numpy(zero_copy_only=False), np.int64)

    def end_user(ips: np.ndarray) -> np.ndarray:
        a = asn_of(ips)
        return (a >= 0) & ~np.isin(a, list(NOT_END_USER_ASNS))

    ip, cc = addresses(bots, rng, mix, accept=end_user)
    asn = asn_of(ip)
    fams = families or {"rustock": 1.0}
    names = list(fams)
    w = np.array([fams[f] for f in names], np.float64)
    family = np.array(names)[rng.choice(len(names), ip.size, p=w / w.sum())]
    offset = np.array([UTC_OFFSET.get(c, 0.0) for c in cc.tolist()], np.float64)
    local_start = rng.uniform(7, 11, ip.size)
    active_start = (((local_start - offset) * 60) % 1440).astype(np.int32)
    active_minutes = (np.clip(rng.normal(10, 2, ip.size), 1, 24) * 60).astype(np.int32)
    # Rustock at the sinkhole: unique addresses -44.2% from week 1 to week 8;
    # exp(-49/m) = 0.558 gives a mean m of 84 days over a 56-day range
    cleaned = (rng.exponential(days * 1.5, ip.size)).astype(np.int64) + 1
    return Population(ip, cc, asn, family, offset, active_start, active_minutes, cleaned)
