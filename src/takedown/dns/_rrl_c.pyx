# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twin of :meth:`takedown.dns.rrl.RateLimiter._fast_check`.

The same common cases as the pure closure, over the limiter's own containers
(``by_ip``, each prefix's accounts, ``allowed``, ``size`` in its ``__dict__``):
an account in its short form with a credit to spend, a class with no limit,
a new account (every distinct name of a cache-cold flood is one). Everything
else goes to the pure closure, which decides it exactly as without this twin
(docs/performance.md, "The answer record and the new account"). The
arithmetic and its order are the closure's, in C doubles, which are Python
floats: the accounts hold the same values bit for bit.
"""

from cpython.dict cimport PyDict_GetItemWithError, PyDict_SetItem
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.list cimport PyList_GET_ITEM
from cpython.long cimport PyLong_AsLongAndOverflow, PyLong_AsSsize_t, PyLong_CheckExact
from cpython.ref cimport PyObject

cdef enum:
    NCLASS = 5  # response classes (takedown.dns.rrl.CLASS_NAMES; checked at construction)

cdef double _EPS = 1e-6  # takedown.dns.rrl._EPS (checked at construction)


cdef class FastCheck:
    """``check(ip, cls, key, now)`` for one limiter (built after its first
    check fixed the epoch, as the closure is)."""

    cdef dict by_ip
    cdef object accounts_of
    cdef double rates[NCLASS]
    cdef double costs[NCLASS]
    cdef double epoch
    cdef list allowed
    cdef dict attrs  # the limiter's __dict__: its ``size``
    cdef object exempt
    cdef Py_ssize_t max_table
    cdef object pure  # the pure closure: every case not handled here

    def __init__(self, limiter, pure):
        from takedown.dns import rrl

        if rrl._EPS != _EPS or len(limiter.rates) != NCLASS:
            raise ImportError("takedown.dns._rrl_c is out of step with takedown.dns.rrl")
        self.by_ip = limiter.by_ip
        self.accounts_of = limiter._accounts_of
        for c in range(NCLASS):
            r = float(limiter.rates[c])
            self.rates[c] = r
            self.costs[c] = 1.0 / r if r else 0.0
        self.epoch = limiter.epoch
        self.allowed = limiter.allowed
        self.attrs = limiter.__dict__
        self.exempt = limiter._exempt_accounts
        self.max_table = limiter.max_table
        self.pure = pure

    def check(self, ip, cls, key, now):
        cdef int overflow = 0
        cdef long c
        cdef double t, a, n
        cdef PyObject *p
        cdef dict accts
        cdef object size
        if not (PyLong_CheckExact(cls) and PyFloat_CheckExact(now)):
            return self.pure(ip, cls, key, now)
        c = PyLong_AsLongAndOverflow(cls, &overflow)
        if overflow or c < 0 or c >= NCLASS:
            return self.pure(ip, cls, key, now)
        n = PyFloat_AS_DOUBLE(now)
        got = self.by_ip.get(ip)
        if got is None:
            got = self.accounts_of(ip, now)
        accts = <dict?>got
        p = PyDict_GetItemWithError(accts, key)  # an unhashable key raises, as dict.get does
        if p is not NULL:
            if PyFloat_CheckExact(<object>p):
                t = n - self.epoch
                a = PyFloat_AS_DOUBLE(<object>p)
                if a < t - 1.0:
                    a = t - 1.0
                a += self.costs[c]
                if a <= t + _EPS:
                    PyDict_SetItem(accts, key, a)
                    self._allow(c)
                    return 0
        elif accts is not self.exempt:
            if not self.rates[c]:
                self._allow(c)
                return 0
            size = self.attrs["size"]
            if PyLong_AsSsize_t(size) < self.max_table and self.costs[c] <= 1.0:
                # a new account: full credit less this response, as the closure makes it
                self.attrs["size"] = size + 1
                PyDict_SetItem(accts, key, (n - self.epoch - 1.0) + self.costs[c])
                self._allow(c)
                return 0
        return self.pure(ip, cls, key, now)

    cdef inline void _allow(self, long c):
        self.allowed[c] = <object>PyList_GET_ITEM(self.allowed, c) + 1
