"""The engine's inner loops, compiled with numba.

A peer list is one row of ``lists`` (int64, ``bots x K``): each entry packs a
rank in its high 32 bits and a node id in its low 32; ``cnt[i]`` entries are in
use, sorted by packed value, highest first. With the "newest" ranking the rank
is the round the entry was last heard of (ties broken by id); with
"goodcount" it is the entry's score. Ids ``>= sink_lo`` are sinkhole entries.

Rounds are synchronous: every requester of a round reads the lists as they
were when the round began (phase 1), then each merges its answer into its own
list (phase 2), then the bots that were asked learn their reachable askers
(phase 3). Each phase writes every row from one place only, so the phases run
in parallel (``prange`` over fixed chunks) and give the same result whatever
the thread timing; random draws come from a counter-based generator keyed by
(seed, round, bot, draw), not from a shared stream.

Why compiled: a 1,000,000-bot, 14-day Waledac run merges ~150 million lists
of 100 entries; figures in bench/RESULTS.md (``bench:p2p``). The same
semantics, written for reading, are in tests/harness/p2p_reference.py.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

NEWEST, GOODCOUNT = 0, 1
DROP_AFTER = -3  # goodcount: an entry whose score falls to this is removed (Sality-like)
OFF = 1 << 30  # ranks are stored as rank + OFF so that packed entries stay positive
ID_MASK = 0xFFFFFFFF
NEVER_HEARD = -(2**30)  # last_ok of a bot that has never heard from a peer (a new infection)
CHUNKS = 64  # fixed work split: the result never depends on the number of threads

# outcome of a request (phase 1)
OK_BOT, OK_SINK, FAIL = 1, 2, 3


@njit(cache=True, inline="always")
def pack(rank, node):
    return ((rank + OFF) << 32) | node


@njit(cache=True, inline="always")
def rank_of(entry):
    return (entry >> 32) - OFF


@njit(cache=True, inline="always")
def rnd(seed, t, i, x):
    """splitmix64 of (seed, round, bot, draw): an independent uniform 64-bit draw."""
    z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(t) * np.uint64(0xBF58476D1CE4E5B9)
    z += np.uint64(i) * np.uint64(0x94D049BB133111EB) + np.uint64(x) * np.uint64(0x2545F4914F6CDD1D)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def below(seed, t, i, x, n):
    """A draw in 0..n-1."""
    return np.int64(rnd(seed, t, i, x) % np.uint64(n))


# -- one list ------------------------------------------------------------------


@njit(cache=True)
def _sort_desc(a, m):
    """a[:m] sorted highest first, in place."""
    a[:m].sort()
    for x in range(m // 2):
        tmp = a[x]
        a[x] = a[m - 1 - x]
        a[m - 1 - x] = tmp


@njit(cache=True)
def _sink_entries(a, m, rank, sink_lo, sink_n, r):
    """a[:m] := m distinct sinkhole entries (a cyclic window of the fake ids starting at
    r, fake ids being interchangeable), highest first."""
    n = 0
    for x in range(m - 1, -1, -1):  # window ids (r + x) % sink_n: the wrapped part is lowest
        node = (r + x) % sink_n
        if node >= r % sink_n:
            a[n] = pack(rank, sink_lo + node)
            n += 1
    for x in range(m - 1, -1, -1):
        node = (r + x) % sink_n
        if node < r % sink_n:
            a[n] = pack(rank, sink_lo + node)
            n += 1


@njit(cache=True)
def _seen(table, eps, e0, node):
    """Add ``node`` to a small open-addressing set (slots marked with epoch e0); True if it was there."""
    mask = table.shape[0] - 1
    h = (node * 0x9E3779B1) & mask
    while True:
        if eps[h] != e0:
            eps[h] = e0
            table[h] = node
            return False
        if table[h] == node:
            return True
        h = (h + 1) & mask


@njit(cache=True)
def merge(row, c, src, m, self_id, out, table, eps, e0):
    """The highest-ranked distinct entries (at most len(row)) of row[:c] and src[:m],
    both sorted highest first, written back into ``row``; returns the new count.
    A node in both keeps its higher rank; ``self_id`` is never listed."""
    K = row.shape[0]
    if c == K and m > 0 and src[0] < row[K - 1]:
        # everything offered ranks below the list's last entry: nothing would change
        # except a repeated node's rank, and a repeat in src ranks lower still
        return c
    a = 0
    b = 0
    n = 0
    if m <= 64 and m * c <= 8192:
        # a small offer (ZeroAccess' 17 entries, one learned asker): find repeats by
        # comparing, and flag the lower copy (table[:m] for src, table[m:m+c] for row)
        for x in range(m + c):
            table[x] = 0
        for x in range(m):
            nx = src[x] & ID_MASK
            if nx == self_id:
                table[x] = 1
                continue
            for x2 in range(x):
                if table[x2] == 0 and (src[x2] & ID_MASK) == nx:
                    table[x] = 1
                    break
            if table[x]:
                continue
            for y in range(c):
                if (row[y] & ID_MASK) == nx:
                    if row[y] >= src[x]:
                        table[x] = 1
                    else:
                        table[m + y] = 1
                    break
        while n < K and (a < c or b < m):
            if b >= m or (a < c and row[a] >= src[b]):
                skip = table[m + a]
                e = row[a]
                a += 1
            else:
                skip = table[b]
                e = src[b]
                b += 1
            if skip:
                continue
            out[n] = e
            n += 1
    else:
        while n < K and (a < c or b < m):
            if b >= m or (a < c and row[a] >= src[b]):
                e = row[a]
                a += 1
            else:
                e = src[b]
                b += 1
            node = e & ID_MASK
            if node == self_id or _seen(table, eps, e0, node):
                continue
            out[n] = e
            n += 1
    for x in range(n):
        row[x] = out[x]
    return n


@njit(cache=True)
def _resort(row, c, slot):
    """Move ``row[slot]`` to its place after its rank changed."""
    e = row[slot]
    x = slot
    while x > 0 and row[x - 1] < e:
        row[x] = row[x - 1]
        x -= 1
    while x < c - 1 and row[x + 1] > e:
        row[x] = row[x + 1]
        x += 1
    row[x] = e


@njit(cache=True)
def _remove(row, c, slot):
    for x in range(slot, c - 1):
        row[x] = row[x + 1]
    return c - 1


@njit(cache=True)
def offer_goodcount(row, c, node, self_id):
    """Goodcount lists take a new node (score 0) only into a free slot or in place of
    the last entry when that one is failing (score < 0). Returns the new count."""
    if node == self_id:
        return c
    for x in range(c):
        if (row[x] & ID_MASK) == node:
            return c
    K = row.shape[0]
    if c < K:
        row[c] = pack(0, node)
        _resort(row, c + 1, c)
        return c + 1
    if rank_of(row[c - 1]) < 0:
        row[c - 1] = pack(0, node)
        _resort(row, c, c - 1)
    return c


@njit(cache=True)
def fail(row, c, slot, ranking, drop):
    """An entry did not answer; returns the new count."""
    if ranking == GOODCOUNT:
        e = row[slot]
        score = rank_of(e) - 1
        if score <= DROP_AFTER:
            return _remove(row, c, slot)
        row[slot] = pack(score, e & ID_MASK)
        _resort(row, c, slot)
        return c
    if drop:
        return _remove(row, c, slot)
    return c


# -- a round -------------------------------------------------------------------


@njit(cache=True)
def status(t, minute, inf_at, clean_at, on_start, on_len, alive, online):
    """alive: infected and not cleaned at round t; online: alive and inside the daily window."""
    for i in range(inf_at.shape[0]):
        a = inf_at[i] <= t and clean_at[i] > t
        alive[i] = a
        online[i] = a and (minute - on_start[i]) % 1440 < on_len[i]


@njit(cache=True)
def requesters(t, online, phase, interval, cnt, out):
    """Online bots whose turn it is this round and that have someone to ask: out[:n], n returned."""
    n = 0
    for i in range(online.shape[0]):
        if online[i] and cnt[i] > 0 and (interval <= 1 or (t + phase[i]) % interval == 0):
            out[n] = i
            n += 1
    return n


@njit(cache=True)
def _ask_one(q, seed, t, sub, req, lists, cnt, online, sink_lo, sink_n, sink_answers, ahead, R, tries,
             peer_of, outcome, reply, reply_n, failed, n_failed, first_seen):
    i = req[q]
    reply_n[q] = 0
    n_failed[q] = 0
    outcome[q] = FAIL
    peer_of[q] = -1
    for attempt in range(tries):
        draw = (sub * 64 + attempt) * 4096
        slot = below(seed, t, i, draw, cnt[i])
        j = lists[i, slot] & ID_MASK
        peer_of[q] = j
        if j >= sink_lo:
            if first_seen[i] < 0:
                first_seen[i] = t
            if not sink_answers:
                failed[q, n_failed[q]] = j
                n_failed[q] += 1
                continue
            outcome[q] = OK_SINK
            m = min(R, sink_n)
            _sink_entries(reply[q], m, t + ahead, sink_lo, sink_n, below(seed, t, i, draw + 1, sink_n))
            reply_n[q] = m
            return
        if not online[j]:
            failed[q, n_failed[q]] = j
            n_failed[q] += 1
            continue
        outcome[q] = OK_BOT
        # the peer's answer: itself, heard of now, then its best R entries
        me = pack(t, j)
        m = min(R, cnt[j])
        n = 0
        placed = False
        for x in range(m):
            e = lists[j, x]
            if not placed and e < me:
                reply[q, n] = me
                n += 1
                placed = True
            reply[q, n] = e
            n += 1
        if not placed:
            reply[q, n] = me
            n += 1
        reply_n[q] = n
        return


@njit(cache=True)
def _apply_one(q, t, req, lists, cnt, last_ok, peer_of, outcome, reply, reply_n, failed, n_failed, ranking, drop,
               out, table, seps, counter, ch):
    i = req[q]
    row = lists[i]
    c = cnt[i]
    if ranking == GOODCOUNT or drop:
        for f in range(n_failed[q]):
            node = failed[q, f]
            for x in range(c):
                if (row[x] & ID_MASK) == node:
                    c = fail(row, c, x, ranking, drop)
                    break
        cnt[i] = c
    if outcome[q] == FAIL:
        return
    last_ok[i] = t
    m = reply_n[q]
    if ranking == NEWEST:
        counter[ch] += 1
        cnt[i] = merge(row, c, reply[q], m, i, out, table, seps, counter[ch])
    else:
        # the entry that answered earns a point (found again: failures may have moved it)
        e = pack(0, peer_of[q])
        for slot in range(c):
            if (row[slot] & ID_MASK) == peer_of[q]:
                e = row[slot]
                row[slot] = pack(rank_of(e) + 1, e & ID_MASK)
                _resort(row, c, slot)
                break
        for x in range(m):
            node = reply[q, x] & ID_MASK
            if node != (e & ID_MASK):
                c = offer_goodcount(row, c, node, i)
        cnt[i] = c


@njit(cache=True, parallel=True)
def ask(seed, t, sub, req, lists, cnt, online, sink_lo, sink_n, sink_answers, ahead, R, tries,
        peer_of, outcome, reply, reply_n, failed, n_failed, first_seen):
    """Phase 1: each requester tries up to ``tries`` random entries of its list until
    one answers, and reads the answer from the lists as they are (nobody writes a
    list in this phase). The entries that did not answer are noted for phase 2."""
    A = req.shape[0]
    step = (A + CHUNKS - 1) // CHUNKS
    for ch in prange(CHUNKS):
        for q in range(ch * step, min(A, (ch + 1) * step)):
            _ask_one(q, seed, t, sub, req, lists, cnt, online, sink_lo, sink_n, sink_answers, ahead, R, tries,
                     peer_of, outcome, reply, reply_n, failed, n_failed, first_seen)


@njit(cache=True, parallel=True)
def apply_answers(t, req, lists, cnt, last_ok, peer_of, outcome, reply, reply_n, failed, n_failed, ranking, drop,
                  scratch, tables, slot_eps, counter):
    """Phase 2: each requester updates its own list from its answer and failures."""
    A = req.shape[0]
    step = (A + CHUNKS - 1) // CHUNKS
    for ch in prange(CHUNKS):
        for q in range(ch * step, min(A, (ch + 1) * step)):
            _apply_one(q, t, req, lists, cnt, last_ok, peer_of, outcome, reply, reply_n, failed, n_failed, ranking,
                       drop, scratch[ch], tables[ch], slot_eps[ch], counter, ch)


@njit(cache=True)
def _learn_one(j, askers, a, b, t, lists, cnt, ranking, out, table, seps, counter, ch, src):
    row = lists[j]
    if ranking == NEWEST:
        m = 0
        for x in range(b - 1, a - 1, -1):  # askers ascending: packed entries descending
            if m < src.shape[0]:
                src[m] = pack(t, askers[x])
                m += 1
        counter[ch] += 1
        cnt[j] = merge(row, cnt[j], src, m, j, out, table, seps, counter[ch])
    else:
        c = cnt[j]
        for x in range(a, b):
            c = offer_goodcount(row, c, askers[x], j)
        cnt[j] = c


@njit(cache=True, parallel=True)
def learn(t, targets, starts, askers, lists, cnt, ranking, scratch, tables, slot_eps, counter, buf):
    """Phase 3: asked bot ``targets[g]`` learns the reachable bots
    ``askers[starts[g]:starts[g + 1]]`` that asked it this round (heard of now)."""
    G = targets.shape[0]
    step = (G + CHUNKS - 1) // CHUNKS
    for ch in prange(CHUNKS):
        for g in range(ch * step, min(G, (ch + 1) * step)):
            _learn_one(targets[g], askers, starts[g], starts[g + 1], t, lists, cnt, ranking, scratch[ch],
                       tables[ch], slot_eps[ch], counter, ch, buf[ch])


@njit(cache=True)
def exchange_serial(seed, t, reps, interval, phase, online, reach, lists, cnt, last_ok, first_seen, sink_lo,
                    sink_n, sink_answers, ahead, R, tries, ranking, drop, req, peer_of, outcome, reply,
                    reply_n, failed, n_failed, scratch, tables, slot_eps, counter, buf, push_j, push_i, stats):
    """All ``reps`` sub-rounds of a round in one call, the three phases one after the
    other on one thread: for small populations (ZeroAccess asks 60 times a minute),
    where starting threads for each phase costs more than the work. Same results as
    the parallel phases (a K-truncated merge of a union equals merging its parts one
    by one). stats += (requests, answered by a bot, sinkhole contacts)."""
    for sub in range(reps):
        a = requesters(t, online, phase, interval, cnt, req)
        if a == 0:
            continue
        rq = req[:a]
        for q in range(a):
            _ask_one(q, seed, t, sub, rq, lists, cnt, online, sink_lo, sink_n, sink_answers, ahead, R, tries,
                     peer_of, outcome, reply, reply_n, failed, n_failed, first_seen)
        for q in range(a):
            _apply_one(q, t, rq, lists, cnt, last_ok, peer_of, outcome, reply, reply_n, failed, n_failed, ranking,
                       drop, scratch[0], tables[0], slot_eps[0], counter, 0)
        n_push = 0
        for q in range(a):
            stats[0] += 1
            if outcome[q] == OK_BOT:
                stats[1] += 1
                if reach[rq[q]]:
                    push_j[n_push] = peer_of[q]
                    push_i[n_push] = rq[q]
                    n_push += 1
            elif outcome[q] == OK_SINK:
                stats[2] += 1
            for f in range(n_failed[q]):
                if failed[q, f] >= sink_lo:
                    stats[2] += 1
        for p in range(n_push):
            _learn_one(push_j[p], push_i, p, p + 1, t, lists, cnt, ranking, scratch[0], tables[0], slot_eps[0],
                       counter, 0, buf[0])


@njit(cache=True, parallel=True)
def poison(seed, t, targets, lists, cnt, R, sink_lo, sink_n, ahead, ranking, scratch, tables, slot_eps, counter, buf):
    """Sensors announce sinkhole entries to ``targets`` (distinct reachable online bots)."""
    m = min(R, sink_n)
    G = targets.shape[0]
    step = (G + CHUNKS - 1) // CHUNKS
    for ch in prange(CHUNKS):
        out = scratch[ch]
        table = tables[ch]
        seps = slot_eps[ch]
        src = buf[ch]
        for g in range(ch * step, min(G, (ch + 1) * step)):
            i = targets[g]
            _sink_entries(src, m, t + ahead, sink_lo, sink_n, below(seed, t, i, 1 << 40, sink_n))
            if ranking == NEWEST:
                counter[ch] += 1
                cnt[i] = merge(lists[i], cnt[i], src, m, i, out, table, seps, counter[ch])
            else:
                c = cnt[i]
                for x in range(m):
                    c = offer_goodcount(lists[i], c, src[x] & ID_MASK, i)
                cnt[i] = c


@njit(cache=True, parallel=True)
def fallback(seed, t, online, lists, cnt, last_ok, last_fb, first_seen, fb_rounds, kind, seized,
             pool, hard, F, ranking, scratch, tables, slot_eps, counter, buf, counts):
    """Bots that heard from no peer for ``fb_rounds`` turn to the fallback (a new bot
    starts with an empty list and "last heard" long ago: it bootstraps this way).
    kind 0: DNS (a fresh list of live reachable bots from ``pool``); 1: hard-coded
    peers (those online); 2: none. Seized, the fallback leads to the sinkhole: the
    bot is seen there and gets nothing. counts[ch] = (fallbacks, recovered, seen at
    the seized fallback, new bots bootstrapping)."""
    n = online.shape[0]
    step = (n + CHUNKS - 1) // CHUNKS
    for ch in prange(CHUNKS):
        out = scratch[ch]
        table = tables[ch]
        seps = slot_eps[ch]
        src = buf[ch]
        n_fb = 0
        n_rec = 0
        n_seen = 0
        n_join = 0
        for i in range(ch * step, min(n, (ch + 1) * step)):
            if kind == 2 or not online[i]:
                continue
            if t - last_ok[i] < fb_rounds or t - last_fb[i] < fb_rounds:
                continue
            last_fb[i] = t
            join = last_ok[i] <= NEVER_HEARD  # a new bot bootstrapping, not a fallback
            if join:
                n_join += 1
            else:
                n_fb += 1
            if seized:
                if not join:
                    n_seen += 1
                if first_seen[i] < 0:
                    first_seen[i] = t
                continue
            m = 0
            if kind == 0:
                if pool.shape[0] > 0:
                    for x in range(F):
                        src[m] = pack(t, pool[below(seed, t, i, 1 << 41 | x, pool.shape[0])])
                        m += 1
            else:
                for x in range(hard.shape[0]):
                    if online[hard[x]]:
                        src[m] = pack(t, hard[x])
                        m += 1
            if m == 0:
                continue
            if not join:
                n_rec += 1
            last_ok[i] = t
            _sort_desc(src, m)
            if ranking == NEWEST:
                # a fresh list from DNS replaces the old one; hard-coded peers join it
                c = 0 if kind == 0 else cnt[i]
                counter[ch] += 1
                cnt[i] = merge(lists[i], c, src, m, i, out, table, seps, counter[ch])
            else:
                c = cnt[i]
                for x in range(m):
                    c = offer_goodcount(lists[i], c, src[x] & ID_MASK, i)
                cnt[i] = c
        counts[ch, 0] = n_fb
        counts[ch, 1] = n_rec
        counts[ch, 2] = n_seen
        counts[ch, 3] = n_join


# -- metrics -------------------------------------------------------------------


@njit(cache=True, parallel=True)
def commandable(alive, source, lists, cnt, sink_lo, cmd):
    """cmd[i]: a chain of live bots' list entries leads from i to a command source
    (a bot pulls commands from the peers it lists). Sweeps until nothing changes;
    returns the number of sweeps. The answer is the least fixed point of the
    sweep, unique whatever order (or thread) marks a bot first, so the parallel
    sweep is deterministic."""
    n = alive.shape[0]
    any_source = False
    for i in range(n):
        cmd[i] = source[i] and alive[i]
        if cmd[i]:
            any_source = True
    if not any_source:
        return 0
    step = (n + CHUNKS - 1) // CHUNKS
    changed = np.ones(CHUNKS, np.bool_)
    sweeps = 0
    while changed.any():
        changed[:] = False
        sweeps += 1
        for ch in prange(CHUNKS):
            for i in range(ch * step, min(n, (ch + 1) * step)):
                if cmd[i] or not alive[i]:
                    continue
                for x in range(cnt[i]):
                    j = lists[i, x] & ID_MASK
                    if j < sink_lo and cmd[j]:
                        cmd[i] = True
                        changed[ch] = True
                        break
    return sweeps


@njit(cache=True)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, parallel=True)
def list_counts(alive, lists, cnt, sink_lo, per_chunk):
    """per_chunk[ch] = (live bots listing only sinkholes, entries of live bots, of them sinkholes)."""
    n = alive.shape[0]
    step = (n + CHUNKS - 1) // CHUNKS
    for ch in prange(CHUNKS):
        only = 0
        entries = 0
        sinks = 0
        for i in range(ch * step, min(n, (ch + 1) * step)):
            if not alive[i]:
                continue
            c = cnt[i]
            s = 0
            for x in range(c):
                if (lists[i, x] & ID_MASK) >= sink_lo:
                    s += 1
            entries += c
            sinks += s
            if c > 0 and s == c:
                only += 1
        per_chunk[ch, 0] = only
        per_chunk[ch, 1] = entries
        per_chunk[ch, 2] = sinks


@njit(cache=True)
def largest_component(alive, lists, cnt, sink_lo, parent):
    """Size of the largest connected component of live bots, linked by list entries
    between live bots (either direction)."""
    n = alive.shape[0]
    for i in range(n):
        parent[i] = i
    for i in range(n):
        if not alive[i]:
            continue
        for x in range(cnt[i]):
            j = lists[i, x] & ID_MASK
            if j < sink_lo and alive[j]:
                a = _find(parent, i)
                b = _find(parent, j)
                if a != b:
                    parent[a] = b
    size = np.zeros(n, np.int32)
    best = 0
    for i in range(n):
        if alive[i]:
            r = _find(parent, i)
            size[r] += 1
            if size[r] > best:
                best = size[r]
    return best


@njit(cache=True)
def dedup_rows(lists, cnt, n, table, seps, counter):
    """Drop repeated nodes and self-entries from the first ``n`` rows (first kept)."""
    for i in range(n):
        counter[0] += 1
        e0 = counter[0]
        w = 0
        for x in range(cnt[i]):
            e = lists[i, x]
            node = e & ID_MASK
            if node == i or _seen(table, seps, e0, node):
                continue
            lists[i, w] = e
            w += 1
        cnt[i] = w
