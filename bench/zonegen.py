"""Deterministic generator of a 3322.org-like dynamic-DNS zone for the benchmarks.

Writes, into one directory:

- ``3322.org.zone``: a master file (``$ORIGIN 3322.org.``, ``$TTL 300``, SOA,
  apex NS with in-zone glue, then one line per record with a relative owner
  name). Host names look like dynamic-DNS customer names: letters and digits,
  4-16 characters, starting with a letter (``wangwei1988``, ``qq52013``,
  ``hack2010``); about 5% have two labels (``www.wangwei1988``), always under
  a one-label host that exists. Record mix per host name:
  A only ~90%, A + AAAA 5%, A + MX 2%, A + TXT 1%, CNAME only 2%.
- ``blocklist.txt``: M names drawn from the hosts, one per line, absolute
  without the trailing dot (``wangwei1988.3322.org``); about 1% of the entries
  are wildcards ``*.<host>.3322.org`` on hosts that have children.
- ``queries.txt``: a dnsperf data file (``name type`` lines), shuffled, with
  this mix (see QUERY_MIX):

  ====  =========================================================
  65%   A of an existing, not blocklisted host (CNAME hosts included)
   3%   AAAA of a host that has AAAA
   2%   AAAA of a host without AAAA (NOERROR, no data)
   1%   MX of a host that has MX
   1%   TXT of a host that has TXT
  16%   A of an exact blocklisted name
   2%   A of a name under a wildcard blocklist entry
  10%   A of a name that does not exist (NXDOMAIN)
  ====  =========================================================

  Note for comparisons: BIND and NSD do not know the blocklist, so they answer
  the blocklisted names from the zone data (and names under wildcard entries
  that are not in the zone with NXDOMAIN); the sinkhole answers its own
  addresses for them.
- ``manifest.json``: parameters, counts, the query mix, generation time.

Same seed and sizes give byte-identical files. Usage::

    python bench/zonegen.py OUTDIR --names 100000 --blocklist 5000
    python bench/zonegen.py OUTDIR --names 3000000 --blocklist 70000 --queries 0
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ORIGIN = "3322.org"
ZONE_FILE = "3322.org.zone"
BLOCKLIST_FILE = "blocklist.txt"
QUERIES_FILE = "queries.txt"
MANIFEST_FILE = "manifest.json"
GENERATOR_VERSION = 3  # bump when the output for a given seed changes

# (share, kind) of the query file; kinds are implemented in _queries().
QUERY_MIX: list[tuple[float, str, str]] = [
    (0.65, "existing_a", "A of an existing, not blocklisted host (CNAME hosts included)"),
    (0.03, "aaaa_present", "AAAA of a host that has AAAA"),
    (0.02, "aaaa_nodata", "AAAA of a host without AAAA (NOERROR, no data)"),
    (0.01, "mx", "MX of a host that has MX"),
    (0.01, "txt", "TXT of a host that has TXT"),
    (0.16, "blocked_exact", "A of an exact blocklisted name"),
    (0.02, "blocked_wildcard", "A of a name under a wildcard blocklist entry"),
    (0.10, "nxdomain", "A of a name that does not exist (NXDOMAIN)"),
]

# Record kinds per host: cumulative thresholds on one uniform draw.
P_CNAME, P_AAAA, P_MX, P_TXT = 0.02, 0.05, 0.02, 0.01
P_TWO_LABELS = 0.05
WILDCARD_SHARE = 0.01

_SYLLABLES = (
    "ai an ang ao ba bai ban bao bei ben bin bo cai can cao chen cheng chun cong cui da dai "
    "dan dao deng di ding dong du duan fan fang fei feng fu gang gao ge gong gu guang gui guo "
    "hai han hao he hong hu hua huang hui jia jian jiang jie jin jing jun kai kang ke kun lan "
    "lei li liang lin ling liu long lu luo ma mei meng min ming mo na nan ning pan peng ping qi "
    "qian qiang qin qing qiu rong ru rui shan shao shen sheng shi shu shuai song su sun tao "
    "tian ting wan wang wei wen wu xia xian xiang xiao xin xing xiong xu xue yan yang yao ye "
    "yi yin ying yong you yu yuan yue yun zhang zhao zhen zheng zhi zhong zhou zhu zi zong"
).split()
_WORDS = (
    "qq hack king boss game love happy angel dragon tiger wolf star sun moon cool super "
    "ddos host home web mail ftp server cam dvr nas mini net link fly vip fox ghost black "
    "red blue shadow night sky lucky free best top magic power smart baby lion ice fire "
    "rat bot remote gh0st pcshare cmd admin test demo office shop kid"
).split()
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_LUCKY = ("8", "88", "168", "520", "666", "888", "1314", "5201314", "123", "007")
_CN_FIRST_OCTETS = (
    27, 36, 39, 42, 49, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117,
    118, 119, 120, 121, 122, 123, 124, 125, 171, 175, 180, 182, 183, 202, 210, 211, 218,
    219, 220, 221, 222, 223,
)
_CHILD_LABELS = ("www", "mail", "ftp", "bbs", "cam", "vpn", "nas", "dvr", "home", "web", "s1", "s2")
_TXT = (
    '"v=spf1 a mx -all"',
    '"v=spf1 include:spf.mail.qq.com ~all"',
    '"google-site-verification=3322dyndnsbenchmark"',
)
_MX_TARGETS = ("mxbiz1.qq.com.", "mxbiz2.qq.com.", "mx.163.com.")


def _label(rng: random.Random) -> str:
    """One customer-style label: [a-z][a-z0-9]{3,15}."""
    r = rng.random()
    choice = rng.choice
    if r < 0.40:  # pinyin syllables + a number: wangwei1988, lixiao520
        s = choice(_SYLLABLES) + choice(_SYLLABLES)
        if rng.random() < 0.3:
            s += choice(_SYLLABLES)
        s += _number(rng)
    elif r < 0.60:  # word + number: hack2010, qq52013
        s = choice(_WORDS) + _number(rng)
    elif r < 0.70:  # syllables only: zhangxiaoming
        s = choice(_SYLLABLES) + choice(_SYLLABLES) + choice(_SYLLABLES)
    elif r < 0.90:  # initials + digits: zxm8899, abc123456
        s = "".join(choice(_LETTERS) for _ in range(rng.randint(2, 5)))
        s += str(rng.randrange(10 ** rng.randint(2, 6)))
    else:  # word + syllables: bossliu, kinglong88
        s = choice(_WORDS) + choice(_SYLLABLES)
        if rng.random() < 0.5:
            s += _number(rng)
    if len(s) < 4:
        s += str(rng.randrange(1000, 10000))
    return s[:16]


def _number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return str(rng.randint(1960, 2015))
    if r < 0.55:
        return rng.choice(_LUCKY)
    if r < 0.85:
        return str(rng.randrange(10 ** rng.randint(1, 5)))
    return ""


def _ipv4(rng: random.Random) -> str:
    b = rng.getrandbits(24)
    return f"{rng.choice(_CN_FIRST_OCTETS)}.{b >> 16}.{(b >> 8) & 255}.{(b & 255) or 1}"


def _ipv6(rng: random.Random) -> str:
    b = rng.getrandbits(64)
    return (
        f"240e:{rng.getrandbits(12):x}:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}"
        f"::{(b >> 48) & 0xFFFF:x}:{(b >> 32) & 0xFFFF:x}:{b & 0xFFFF or 1:x}"
    )


def default_queries(names: int) -> int:
    """Lines of the query file: 200,000 for the 100k zone; 1,000,000 for
    zones of a million names and more, so that a run sees more distinct
    queries than a 250,000-entry answer cache holds (a cache-cold run)."""
    return 200_000 if names < 1_000_000 else 1_000_000


def zone_dir(root: Path, names: int, blocklist: int) -> Path:
    """The cache directory of one (names, blocklist) set under ``root``."""
    return Path(root) / f"{names // 1000}k-bl{blocklist // 1000}k"


def generate(
    outdir: Path,
    names: int,
    blocklist: int,
    queries: int = 200_000,
    seed: int = 3322,
    *,
    force: bool = False,
    quiet: bool = False,
) -> dict:
    """Generate (or reuse, when the manifest matches) the zone set in ``outdir``.

    Returns the manifest (a dict, also written to ``manifest.json``).
    """
    outdir = Path(outdir)
    params = {
        "generator_version": GENERATOR_VERSION,
        "origin": ORIGIN,
        "names": names,
        "blocklist": blocklist,
        "queries": queries,
        "seed": seed,
    }
    manifest_path = outdir / MANIFEST_FILE
    if not force and manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
        except ValueError:
            old = {}
        if old.get("params") == params and all(
            (outdir / f).exists() for f in (ZONE_FILE, BLOCKLIST_FILE, QUERIES_FILE)
        ):
            if not quiet:
                print(f"zonegen: reusing {outdir} ({names:,} names)", file=sys.stderr)
            return {**old, "reused": True}
    if blocklist > names:
        raise ValueError("blocklist larger than the number of names")

    t0 = time.perf_counter()
    outdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)

    # --- host names: unique; ~5% are two labels under an existing one-label host.
    n_two = int(names * P_TWO_LABELS)
    n_one = names - n_two
    seen: set[str] = {"ns1", "ns2", "www", "mail", "@"}
    one: list[str] = []
    while len(one) < n_one:
        s = _label(rng)
        if s not in seen:
            seen.add(s)
            one.append(s)
    # Parents of two-label names: a small set of one-label hosts with several children each.
    parents = rng.sample(one, max(1, n_two // 4)) if n_two else []
    two: list[str] = []
    while len(two) < n_two:
        parent = rng.choice(parents)
        child = rng.choice(_CHILD_LABELS) if rng.random() < 0.6 else _label(rng)[:10]
        s = f"{child}.{parent}"
        if s not in seen:
            seen.add(s)
            two.append(s)
    hosts = one + two
    rng.shuffle(hosts)
    parent_set = set(parents)
    children_of: dict[str, list[str]] = {}
    for h in two:
        children_of.setdefault(h.split(".", 1)[1], []).append(h)

    # --- records: one uniform draw per host decides its kind.
    t_cname, t_aaaa = P_CNAME, P_CNAME + P_AAAA
    t_mx, t_txt = t_aaaa + P_MX, t_aaaa + P_MX + P_TXT
    cname_hosts: list[str] = []
    a_hosts: list[str] = []
    aaaa_hosts: list[str] = []
    noaaaa_hosts: list[str] = []
    mx_hosts: list[str] = []
    txt_hosts: list[str] = []
    lines: list[str] = [
        f"$ORIGIN {ORIGIN}.",
        "$TTL 300",
        f"@ IN SOA ns1.{ORIGIN}. dnsadmin.{ORIGIN}. 2024010101 3600 900 604800 300",
        "@ IN NS ns1",
        "@ IN NS ns2",
        "@ IN A 118.184.176.13",
        "@ IN MX 10 mail",
        "ns1 IN A 118.184.176.10",
        "ns2 IN A 118.184.176.11",
        "www IN A 118.184.176.13",
        "mail IN A 118.184.176.14",
    ]
    append = lines.append
    for h in hosts:
        r = rng.random()
        if r < t_cname and h not in parent_set:
            # A CNAME to a host of the zone that has an A record (a customer
            # alias; never a chain or a loop), or to a name outside the zone.
            if not a_hosts or rng.random() < 0.3:
                append(f"{h} IN CNAME {rng.choice(_WORDS)}{rng.randrange(100)}.f3322.net.")
            else:
                append(f"{h} IN CNAME {rng.choice(a_hosts)}")
            cname_hosts.append(h)
            continue
        append(f"{h} IN A {_ipv4(rng)}")
        if len(a_hosts) < 10_000:
            a_hosts.append(h)
        if t_cname <= r < t_aaaa:
            append(f"{h} IN AAAA {_ipv6(rng)}")
            aaaa_hosts.append(h)
            continue
        noaaaa_hosts.append(h)
        if t_aaaa <= r < t_mx:
            append(f"{h} IN MX 10 {rng.choice(_MX_TARGETS)}")
            mx_hosts.append(h)
        elif t_mx <= r < t_txt:
            append(f"{h} IN TXT {rng.choice(_TXT)}")
            txt_hosts.append(h)
    zone_path = outdir / ZONE_FILE
    _write_lines(zone_path, lines)
    n_records = len(lines) - 2
    del lines

    # --- blocklist: ~1% wildcards on hosts that have children, the rest exact names.
    n_wild = min(round(blocklist * WILDCARD_SHARE), len(parents)) if blocklist else 0
    wild_parents = rng.sample(parents, n_wild) if n_wild else []
    wild_set = set(wild_parents)
    under_wild = set()
    for p in wild_parents:
        under_wild.update(children_of.get(p, ()))
    pool = [h for h in hosts if h not in wild_set and h not in under_wild]
    exact = rng.sample(pool, blocklist - n_wild)
    blocked = [f"{h}.{ORIGIN}" for h in exact] + [f"*.{p}.{ORIGIN}" for p in wild_parents]
    rng.shuffle(blocked)
    _write_lines(outdir / BLOCKLIST_FILE, blocked)
    exact_set = set(exact)
    del blocked, pool  # exact_set | under_wild: every host the sinkhole answers itself

    # --- queries
    n_q = n_distinct = 0
    if queries:
        n_q, n_distinct = _queries(
            outdir / QUERIES_FILE, rng, queries, hosts, seen, exact, exact_set | under_wild,
            wild_parents,
            children_of, aaaa_hosts, noaaaa_hosts, mx_hosts, txt_hosts,
        )
    else:
        (outdir / QUERIES_FILE).write_text("")

    elapsed = time.perf_counter() - t0
    manifest = {
        "params": params,
        "files": {"zone": ZONE_FILE, "blocklist": BLOCKLIST_FILE, "queries": QUERIES_FILE},
        "counts": {
            "host_names": len(hosts),
            "two_label_names": n_two,
            "records": n_records,
            "cname": len(cname_hosts),
            "aaaa": len(aaaa_hosts),
            "mx": len(mx_hosts),
            "txt": len(txt_hosts),
            "blocklist_exact": len(exact),
            "blocklist_wildcard": n_wild,
            "queries": n_q,
            "distinct_queries": n_distinct,
        },
        "query_mix": [{"share": s, "kind": k, "what": w} for s, k, w in QUERY_MIX],
        "zone_bytes": zone_path.stat().st_size,
        "generation_seconds": round(elapsed, 2),
        "probe_name": f"www.{ORIGIN}",
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    if not quiet:
        print(
            f"zonegen: {outdir}: {len(hosts):,} names, {n_records:,} records, "
            f"blocklist {len(exact):,}+{n_wild} wildcards, {n_q:,} queries in {elapsed:.1f} s",
            file=sys.stderr,
        )
    return manifest


def _queries(
    path, rng, n, hosts, seen, exact, sunk, wild_parents, children_of,
    aaaa_hosts, noaaaa_hosts, mx_hosts, txt_hosts,
) -> int:
    out: list[str] = []
    ok_hosts = [h for h in hosts if h not in sunk]
    for share, kind, _ in QUERY_MIX:
        k = round(n * share)
        if kind == "existing_a":
            out += [f"{rng.choice(ok_hosts)}.{ORIGIN} A" for _ in range(k)]
        elif kind == "aaaa_present" and aaaa_hosts:
            out += [f"{rng.choice(aaaa_hosts)}.{ORIGIN} AAAA" for _ in range(k)]
        elif kind == "aaaa_nodata":
            out += [f"{rng.choice(noaaaa_hosts)}.{ORIGIN} AAAA" for _ in range(k)]
        elif kind == "mx" and mx_hosts:
            out += [f"{rng.choice(mx_hosts)}.{ORIGIN} MX" for _ in range(k)]
        elif kind == "txt" and txt_hosts:
            out += [f"{rng.choice(txt_hosts)}.{ORIGIN} TXT" for _ in range(k)]
        elif kind == "blocked_exact" and exact:
            out += [f"{rng.choice(exact)}.{ORIGIN} A" for _ in range(k)]
        elif kind == "blocked_wildcard" and wild_parents:
            for _ in range(k):
                p = rng.choice(wild_parents)
                kids = children_of.get(p)
                if kids and rng.random() < 0.5:
                    out.append(f"{rng.choice(kids)}.{ORIGIN} A")
                else:
                    out.append(f"{_label(rng)[:10]}.{p}.{ORIGIN} A")
        elif kind == "nxdomain":
            for _ in range(k):
                s = _label(rng)
                while s in seen:
                    s = _label(rng)
                out.append(f"{s}.{ORIGIN} A")
    rng.shuffle(out)
    _write_lines(path, out)
    return len(out), len(set(out))


def _write_lines(path: Path, lines: list[str], chunk: int = 200_000) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii", buffering=1 << 20) as f:
        for i in range(0, len(lines), chunk):
            f.write("\n".join(lines[i : i + chunk]))
            f.write("\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--names", type=int, default=100_000)
    ap.add_argument("--blocklist", type=int, default=5_000)
    ap.add_argument("--queries", type=int, default=None, help="default: see default_queries()")
    ap.add_argument("--seed", type=int, default=3322)
    ap.add_argument("--force", action="store_true", help="regenerate even if the manifest matches")
    a = ap.parse_args(argv)
    q = a.queries if a.queries is not None else default_queries(a.names)
    m = generate(a.outdir, a.names, a.blocklist, q, a.seed, force=a.force)
    print(json.dumps(m["counts"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
