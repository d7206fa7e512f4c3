# Included by the compiled twins (_policy_c.pyx, _responder_c.pyx) that make
# instances of slotted Python classes (Result, Decision, the responder's
# _Entry) per answer. Their __init__ runs Python code (default factories, a
# frozen dataclass's object.__setattr__ per field): these fill a new
# instance's slots directly, at the offsets their member descriptors give
# (_slot, read once at import), which is what those descriptors' __set__ does.

from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF


cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset


cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member


cdef Py_ssize_t _slot(type cls, str name) except -1:
    """The offset in an instance of ``cls`` of the slot ``name``."""
    d = cls.__dict__[name]
    if type(d).__name__ != "member_descriptor":
        raise TypeError(f"{cls.__name__}.{name} is not a slot")
    return (<PyMemberDescrObject*>d).d_member.offset


cdef inline void _put(object obj, Py_ssize_t offset, object value):
    """Fill the empty slot at ``offset`` of the new ``obj`` with ``value``."""
    Py_INCREF(value)
    (<PyObject**>((<char*><PyObject*>obj) + offset))[0] = <PyObject*>value


cdef tuple _NO_ARGS = ()


cdef inline object _new(type cls):
    """cls.__new__(cls): object.__new__ (these classes have no __new__ of their own)."""
    return (<PyTypeObject*>cls).tp_new(cls, <PyObject*>_NO_ARGS, NULL)


cdef inline object _got(object obj, Py_ssize_t offset, str name):
    """The value in the slot at ``offset`` of ``obj`` (what the member
    descriptor's __get__ gives), AttributeError ``name`` when it is empty."""
    cdef PyObject* v = (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
    if v == NULL:
        raise AttributeError(name)
    return <object>v


cdef inline void _reput(object obj, Py_ssize_t offset, object value):
    """Replace the value in the slot at ``offset`` of ``obj`` (the
    descriptor's __set__ on a slot already filled or empty)."""
    cdef PyObject** at = <PyObject**>((<char*><PyObject*>obj) + offset)
    cdef PyObject* old = at[0]
    Py_INCREF(value)
    at[0] = <PyObject*>value
    Py_XDECREF(old)
