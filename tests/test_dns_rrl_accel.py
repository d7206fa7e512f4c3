"""The compiled fast check of the rate limiter (takedown.dns._rrl_c) against
the pure closure, in the same process.

Two limiters with the same settings, one deciding through the pure closure
(``twin = None``) and one through the compiled twin, get the same random
sequence of (address, class, key, time): every verdict, the account table
(each float bit for bit), the size and every counter must be equal after
each step. The sequences cover new accounts, short-form accounts in credit,
classes without a limit, limited accounts (slips, drops, the full form and
back), exempt addresses, IPv6 prefixes, a table that fills and is swept,
all_per_second, idle gaps past the window; and inputs the responder never
passes (a class out of range, an integer time, an unhashable key), which
must raise or answer exactly as the pure closure does.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from takedown.dns.rrl import ERROR_KEY, ERRORS, NODATA, NXDOMAINS, REFERRALS, RESPONSES, RateLimiter

_rrl_c = pytest.importorskip("takedown.dns._rrl_c", reason="the compiled twin is not built")

CLASSES = [RESPONSES, REFERRALS, NODATA, NXDOMAINS, ERRORS]


def _pair(**kw) -> tuple[RateLimiter, RateLimiter]:
    pure, fast = RateLimiter(**kw), RateLimiter(**kw)
    pure.twin = None
    fast.twin = _rrl_c
    return pure, fast


def _bits(v):
    """A float as its exact text (NaN equal to NaN), a full-form account item by item."""
    if isinstance(v, float):
        return v.hex()
    return [_bits(x) for x in v] if isinstance(v, list) else v


def _state(rl: RateLimiter):
    table = {p: {k: _bits(a) for k, a in accts.items()} for p, accts in rl.table.items()}
    return (table, rl.size, rl.allowed, rl.limited, rl.exempted, rl.evicted, set(rl.by_ip))


def _outcome(rl: RateLimiter, *args):
    try:
        return rl.check(*args)
    except Exception as e:  # noqa: BLE001 - the same exception on both is the point
        return type(e)


def _settings(rnd: random.Random) -> dict:
    return dict(
        responses_per_second=rnd.choice([1, 3, 20, 1000]), referrals_per_second=rnd.choice([None, 0, 2]),
        nodata_per_second=rnd.choice([None, 0, 2]), nxdomains_per_second=rnd.choice([1, 5, 0]),
        errors_per_second=rnd.choice([0, 4]), all_per_second=rnd.choice([0, 0, 0, 10]),
        slip=rnd.choice([0, 1, 2, 3]), window=rnd.choice([1, 5, 15]), max_table=rnd.choice([16, 64, 100_000]),
        exempt=["10.9.0.0/16", "2001:db8:e::/48"],
    )


def run_pair(seed: int, steps: int, *, odd: bool = False) -> tuple[RateLimiter, RateLimiter, dict]:
    rnd = random.Random(seed)
    kw = _settings(rnd)
    pure, fast = _pair(**kw)
    ips = ([f"192.0.{rnd.randrange(4)}.{rnd.randrange(1, 5)}" for _ in range(10)]
           + ["10.9.1.1", "2001:db8::1", "2001:db8:0:1::7", "2001:db8:e::5", "::ffff:192.0.2.9", "not-an-address"])
    t = 5000.0 + rnd.random()
    seen = {"verdicts": set()}
    for step in range(steps):
        t += rnd.choice([0.0, 0.0, 0.0005, 0.001, 0.02, 0.3, 1.5, 20.0 if rnd.random() < 0.02 else 0.0])
        ip = rnd.choice(ips)
        cls = rnd.choice(CLASSES)
        key = ERROR_KEY if cls == ERRORS else f"{cls}k{rnd.randrange(rnd.choice([3, 40, 10_000]))}"
        now = t
        if odd and rnd.random() < 0.05:  # what the responder never passes
            which = rnd.randrange(4)
            if which == 0:
                cls = rnd.choice([-1, 5, 6, 1 << 70, True])
            elif which == 1:
                now = int(t)
            elif which == 2:
                key = ["unhashable"]
            else:
                now = rnd.choice([float("nan"), float("inf"), t * 1.0])
        got, want = _outcome(fast, ip, cls, key, now), _outcome(pure, ip, cls, key, now)
        assert got == want, (step, ip, cls, key, now)
        seen["verdicts"].add(got)
        if step % 50 == 0 or got != 0:
            assert _state(fast) == _state(pure), step
    assert _state(fast) == _state(pure)
    assert fast.counters() == pure.counters()
    return pure, fast, seen


@pytest.mark.parametrize("seed", range(40))
def test_random_traffic_same_verdicts_tables_and_counters(seed):
    pure, fast, seen = run_pair(seed, 3000)
    if not fast.all_rate:  # all_per_second: every check through _check, no twin
        assert type(fast.check.__self__) is _rrl_c.FastCheck
        assert type(pure.check).__name__ == "function"  # the pure closure


@pytest.mark.parametrize("seed", range(12))
def test_inputs_the_responder_never_passes_behave_as_the_closure(seed):
    run_pair(1000 + seed, 2000, odd=True)


def test_the_twin_reaches_every_case():
    """New accounts, accounts in credit, no limit, limited (slip and drop),
    exempt and a full table all occur in the random runs, with the twin in use."""
    verdicts, sweeps, sized = set(), 0, 0
    for seed in range(40):
        _pure, fast, seen = run_pair(seed, 3000)
        verdicts |= seen["verdicts"]
        sweeps += fast.evicted
        sized += fast.size
    assert verdicts == {0, 1, 2} and sweeps > 0 and sized > 0


@pytest.mark.parametrize("rate", [1, 3, 7, 20, 1000])
def test_at_the_edge_of_a_credit(rate):
    """Asked at (about) the instant an account's credit runs out: the float
    sums of 1/rate round a hair either way, which the pure check's 1 us slack
    absorbs; the twin must allow exactly what the closure allows."""
    rnd = random.Random(rate)
    pure, fast = _pair(responses_per_second=rate, slip=2, window=2)
    t0 = 7000.0 + rnd.random()
    for k in range(4000):
        t = t0 + (k // 3) / rate + rnd.choice([-3e-6, -1e-6, -5e-7, 0.0, 0.0, 5e-7, 1e-6, 3e-6, 2e-4, -2e-4])
        key = f"k{k % 2}"
        assert fast.check("192.0.2.1", RESPONSES, key, t) == pure.check("192.0.2.1", RESPONSES, key, t), k
    assert _state(fast) == _state(pure)


def test_a_cold_flood_opens_one_account_per_name():
    pure, fast = _pair(responses_per_second=5, nxdomains_per_second=5, max_table=1000)
    for i in range(5000):  # distinct names: new accounts until the table is full, then sweeps
        t = 100.0 + i * 0.0001
        assert fast.check("192.0.2.1", RESPONSES, f"n{i}/1", t) == pure.check("192.0.2.1", RESPONSES, f"n{i}/1", t) == 0
    assert _state(fast) == _state(pure) and fast.evicted > 0 and fast.allowed[RESPONSES] == 5000


def test_pure_flag_selects_the_closure():
    code = ("from takedown.dns.rrl import RateLimiter as R; r = R(5); r.check('192.0.2.1', 0, 'k', 1.0); "
            "print(R.twin is None, type(getattr(r.check, '__self__', None)).__name__)")
    for env, want in (({"TAKEDOWN_PURE": "1"}, "True NoneType"), ({"TAKEDOWN_PURE": "0"}, "False FastCheck")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, **env}).stdout.strip()
        assert out == want
