# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled twin of ``DnsShell._drain`` (takedown.dns.server): datagrams
in and answers out by the batch, ``recvmmsg(2)`` and ``sendmmsg(2)`` (Linux
2.6.33 and 3.0), instead of one ``recvfrom`` and one ``sendto`` per query.

The profile of a cache-cold run (docs/performance.md, "Around the decision")
put a fifth of the worker's CPU in the kernel's send path and the socket
module's per-datagram objects (a tuple per address, a new address string per
packet). Here a batch of up to :data:`_VEC` datagrams is one system call each
way; the source address text is made with ``inet_ntop`` (IPv4, remembered per
address, as ``socket`` would give it) or ``getnameinfo(NI_NUMERICHOST)`` (IPv6,
what CPython's socket module calls); the Responder gets exactly the arguments
the pure loop gives it, one call per datagram, in arrival order, each with its
own clock reading. Failures are the pure loop's: a receive error other than
"nothing queued" skips to the next read, a failed send loses that answer only.

When the responder's ``respond`` is the compiled front
(``takedown.dns._responder_c.front``, bound to the responder), the loop calls
its C function directly (the capsule ``_responder_c.FRONT``): no bound-method
call and no argument tuple or vector per datagram.
"""

import sys

from cpython.pycapsule cimport PyCapsule_GetPointer

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.errno cimport EAGAIN, EINTR, errno
from libc.stdlib cimport free, malloc
from libc.string cimport memset, strlen
from cpython.unicode cimport PyUnicode_DecodeASCII

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t
    struct sockaddr:
        sa_family_t sa_family
    struct sockaddr_storage:
        sa_family_t ss_family
    struct iovec:
        void *iov_base
        size_t iov_len
    struct msghdr:
        void *msg_name
        socklen_t msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    int recvmmsg(int fd, mmsghdr *vec, unsigned int n, int flags, void *timeout)
    int sendmmsg(int fd, mmsghdr *vec, unsigned int n, int flags)
    int MSG_DONTWAIT
    int AF_INET
    int AF_INET6

cdef extern from "<netinet/in.h>" nogil:
    struct in_addr:
        unsigned int s_addr
    struct sockaddr_in:
        sa_family_t sin_family
        unsigned short sin_port
        in_addr sin_addr
    struct sockaddr_in6:
        sa_family_t sin6_family
        unsigned short sin6_port
    unsigned short ntohs(unsigned short)

cdef extern from "<arpa/inet.h>" nogil:
    const char *inet_ntop(int af, const void *src, char *dst, socklen_t size)

cdef extern from "<netdb.h>" nogil:
    int getnameinfo(const sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                    socklen_t servlen, int flags)
    int NI_NUMERICHOST
    int NI_MAXHOST

cdef enum:
    _VEC = 64  # datagrams per system call (a wake-up's batch is several of these)
cdef int _RECV = 4096  # as the pure loop's recvfrom size: a longer datagram is cut (and answered FORMERR)
cdef int _NAMES_MAX = 65536  # remembered IPv4 source texts


ctypedef object (*front_f)(object, object, object, object, object, object, object, object)


cdef class Drain:
    """One UDP socket's batch loop; buffers allocated once. Not thread-safe
    (one per socket, used from its event loop)."""

    cdef mmsghdr rmsg[_VEC]
    cdef iovec riov[_VEC]
    cdef sockaddr_storage raddr[_VEC]
    cdef mmsghdr smsg[_VEC]
    cdef iovec siov[_VEC]
    cdef char *bufs
    cdef int fd
    cdef object respond, dst_ip, dst_port, clock, on_error
    cdef dict v4names
    cdef front_f front  # the compiled Responder.respond's C function, or NULL: ``respond`` is called
    cdef object responder  # its responder (``respond.__self__``)

    def __cinit__(self, int fd, respond, str dst_ip, dst_port, clock, on_error):
        cdef int i
        self.bufs = <char *> malloc(_VEC * _RECV)
        if self.bufs == NULL:
            raise MemoryError()
        self.fd = fd
        # the responder's arguments that never change, as the Python objects it is given
        self.respond, self.dst_ip, self.dst_port, self.clock = respond, dst_ip, dst_port, clock
        self.on_error = on_error
        self.v4names = {}
        self.front = NULL
        twin = sys.modules.get("takedown.dns._responder_c")
        if twin is not None and getattr(respond, "__func__", None) is twin.front:
            self.responder = respond.__self__
            self.front = <front_f>PyCapsule_GetPointer(twin.FRONT, b"takedown.dns._responder_c.FRONT")
        memset(self.rmsg, 0, sizeof(self.rmsg))
        memset(self.smsg, 0, sizeof(self.smsg))
        for i in range(_VEC):
            self.riov[i].iov_base = self.bufs + i * _RECV
            self.riov[i].iov_len = _RECV
            self.rmsg[i].msg_hdr.msg_iov = &self.riov[i]
            self.rmsg[i].msg_hdr.msg_iovlen = 1
            self.rmsg[i].msg_hdr.msg_name = &self.raddr[i]
            self.smsg[i].msg_hdr.msg_iov = &self.siov[i]
            self.smsg[i].msg_hdr.msg_iovlen = 1

    def __dealloc__(self):
        free(self.bufs)

    @property
    def direct(self) -> bool:
        """Whether the loop calls the compiled front's C function (not ``respond``)."""
        return self.front != NULL

    cdef str _host(self, sockaddr_storage *sa, socklen_t salen):
        """The source address as CPython's socket module writes it."""
        cdef char text[64]
        cdef unsigned int a
        cdef str s
        if sa.ss_family == AF_INET:
            a = (<sockaddr_in *> sa).sin_addr.s_addr
            s = self.v4names.get(a)
            if s is None:
                inet_ntop(AF_INET, &(<sockaddr_in *> sa).sin_addr, text, sizeof(text))
                s = PyUnicode_DecodeASCII(text, strlen(text), NULL)
                if len(self.v4names) >= _NAMES_MAX:
                    self.v4names.clear()
                self.v4names[a] = s
            return s
        if getnameinfo(<sockaddr *> sa, salen, text, sizeof(text), NULL, 0, NI_NUMERICHOST) != 0:
            return ""
        return PyUnicode_DecodeASCII(text, strlen(text), NULL)

    def drain(self, int limit):
        """Read and answer up to ``limit`` datagrams; the number handled
        (fewer when the socket ran dry), as ``DnsShell._drain`` returns it."""
        cdef int done = 0, got, i, nsend, at, r, want
        cdef unsigned int port
        cdef list keep
        cdef str src
        cdef bytes data
        cdef sockaddr_storage *sa
        respond = self.respond
        clock = self.clock
        dst_ip = self.dst_ip
        dst_port = self.dst_port
        while done < limit:
            want = limit - done
            if want > _VEC:
                want = _VEC
            for i in range(want):
                self.rmsg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage)
                self.rmsg[i].msg_hdr.msg_flags = 0
            got = recvmmsg(self.fd, self.rmsg, want, MSG_DONTWAIT, NULL)
            if got < 0:
                if errno == EAGAIN:  # (EWOULDBLOCK on Linux)
                    return done
                done += 1  # the pure loop: an OSError costs one turn, then reads on
                continue
            if got == 0:
                return done
            keep = []  # the answers, alive until sent
            nsend = 0
            for i in range(got):
                data = PyBytes_FromStringAndSize(self.bufs + i * _RECV, self.rmsg[i].msg_len)
                sa = &self.raddr[i]
                if sa.ss_family == AF_INET:
                    port = ntohs((<sockaddr_in *> sa).sin_port)
                else:
                    port = ntohs((<sockaddr_in6 *> sa).sin6_port)
                src = self._host(sa, self.rmsg[i].msg_hdr.msg_namelen)
                try:
                    if self.front != NULL:
                        out = self.front(self.responder, data, src, port, "udp", dst_ip, dst_port, clock())
                    else:
                        out = respond(data, src, port, "udp", dst_ip, dst_port, clock())
                except Exception as e:
                    self.on_error(e)
                    continue
                if out is None:
                    continue
                if type(out) is not bytes:
                    out = bytes(out)
                keep.append(out)
                self.siov[nsend].iov_base = PyBytes_AS_STRING(out)
                self.siov[nsend].iov_len = PyBytes_GET_SIZE(out)
                self.smsg[nsend].msg_hdr.msg_name = sa
                self.smsg[nsend].msg_hdr.msg_namelen = self.rmsg[i].msg_hdr.msg_namelen
                nsend += 1
            at = 0
            while at < nsend:
                r = sendmmsg(self.fd, &self.smsg[at], nsend - at, MSG_DONTWAIT)
                if r > 0:
                    at += r
                elif r < 0 and errno == EINTR:
                    continue
                else:
                    at += 1  # this answer is lost (send buffer full, peer gone), as in the pure loop
            done += got
            if got < want:
                return done  # the socket is dry: the pure loop's next read would find nothing
        return done
