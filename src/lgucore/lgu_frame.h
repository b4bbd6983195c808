/* C helpers of lgucore/_frames_c.pyx, included with `cdef extern from "lgu_frame.h"`. */
#ifndef LGU_FRAME_H
#define LGU_FRAME_H

#include <Python.h>

/* A Frame (a tuple subclass of two items) built the way tuple.__new__ builds one. */
static PyObject *lgu_frame(PyObject *cls, long ftype, PyObject *body) {
    PyTypeObject *tp = (PyTypeObject *)cls;
    PyObject *o, *t;
    t = PyLong_FromLong(ftype);
    if (t == NULL) return NULL;
    o = tp->tp_alloc(tp, 2);
    if (o == NULL) { Py_DECREF(t); return NULL; }
    Py_INCREF(body);
    PyTuple_SET_ITEM(o, 0, t);
    PyTuple_SET_ITEM(o, 1, body);
    return o;
}

#endif /* LGU_FRAME_H */
