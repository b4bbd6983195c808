/* lgu_keytab.h: the compiled twin's table of str keys for the tracker's memories (index.pxd).
 *
 * A dict answers "is this key here?" by reading a slot of its index array (4 bytes per slot,
 * a megabyte for 200,000 slots) and, when the slot is taken, the entry it points to, and then
 * probing another slot far away: two or three cache misses per question in a table of
 * 100,000 keys, and as many per insert. This table keeps one byte per slot beside the
 * entries: 0 for an empty slot, else 0x80 and seven bits of the key's hash. Probing is
 * linear, so a question reads a few neighbouring bytes of a tag array small enough to stay
 * in the CPU's cache, and reads an entry only when a tag matches: a key that is not there
 * (nearly every key the tombstones are asked about) costs no entry read, and an insert
 * writes its entry without reading one. Entries keep the hash, so growing never reads a key.
 * A removal moves back the keys after it in its run that would otherwise no longer be found
 * (backward-shift deletion), so no slot is ever left marked "removed" and runs stay as short
 * as the load allows however many keys come and go (the orphans' memory removes keys).
 *
 * Keys are str (compared by identity, then by value), values any object; the table holds a
 * reference to each. The load stays at most one half. Every function that can fail returns
 * -1 with a Python exception set; none calls back into Python code (str hashing and
 * comparison only).
 */
#ifndef LGU_KEYTAB_H
#define LGU_KEYTAB_H

#include <Python.h>
#include <stdint.h>

typedef struct {
    Py_hash_t hash;
    PyObject *key;
    PyObject *value;
} lgu_kt_entry;

typedef struct {
    Py_ssize_t cap;     /* slots: 0 (nothing allocated yet) or a power of two */
    Py_ssize_t used;    /* keys held */
    uint8_t *tags;      /* per slot: 0 empty, else 0x80 | 7 bits of the hash */
    lgu_kt_entry *ents;
} lgu_kt;

#define LGU_KT_EMPTY 0
#define LGU_KT_MIN_CAP 16

static CYTHON_INLINE uint8_t lgu_kt_tag(Py_hash_t h) {
    return (uint8_t)(0x80u | (uint8_t)(((uint64_t)h >> 57) & 0x7Fu));
}

static CYTHON_INLINE int lgu_kt_same(PyObject *a, PyObject *b) {
    /* (str with str: PyUnicode_Compare cannot fail) */
    return a == b || (PyUnicode_Check(a) && PyUnicode_Check(b) && PyUnicode_Compare(a, b) == 0);
}

/* the slot holding key (hash h), or -1 */
static CYTHON_INLINE Py_ssize_t lgu_kt_find(const lgu_kt *t, PyObject *key, Py_hash_t h) {
    size_t mask, i;
    uint8_t tag, g;
    if (t->used == 0) return -1;
    mask = (size_t)t->cap - 1;
    tag = lgu_kt_tag(h);
    for (i = (size_t)h & mask;; i = (i + 1) & mask) {
        g = t->tags[i];
        if (g == LGU_KT_EMPTY) return -1;
        if (g == tag && t->ents[i].hash == h && lgu_kt_same(t->ents[i].key, key)) return (Py_ssize_t)i;
    }
}

/* move every key into fresh arrays of cap slots */
static int lgu_kt_resize(lgu_kt *t, Py_ssize_t cap) {
    uint8_t *tags = (uint8_t *)PyMem_Calloc((size_t)cap, 1);
    lgu_kt_entry *ents = (lgu_kt_entry *)PyMem_Malloc((size_t)cap * sizeof(lgu_kt_entry));
    size_t mask = (size_t)cap - 1, i, j;
    if (tags == NULL || ents == NULL) {
        PyMem_Free(tags);
        PyMem_Free(ents);
        PyErr_NoMemory();
        return -1;
    }
    for (j = 0; j < (size_t)t->cap; j++) {
        if (t->tags[j] < 0x80) continue;
        for (i = (size_t)t->ents[j].hash & mask; tags[i] != LGU_KT_EMPTY; i = (i + 1) & mask) {}
        tags[i] = t->tags[j];
        ents[i] = t->ents[j];
    }
    PyMem_Free(t->tags);
    PyMem_Free(t->ents);
    t->tags = tags;
    t->ents = ents;
    t->cap = cap;
    return 0;
}

/* the value of key, a borrowed reference, or NULL */
static CYTHON_INLINE PyObject *lgu_kt_get(const lgu_kt *t, PyObject *key, Py_hash_t h) {
    Py_ssize_t i = lgu_kt_find(t, key, h);
    return i < 0 ? NULL : t->ents[i].value;
}

/* the value under key in a, else in b (a value of None counts as none there), else None:
   a new reference */
static CYTHON_INLINE PyObject *lgu_kt_lookup2(const lgu_kt *a, const lgu_kt *b, PyObject *key, Py_hash_t h) {
    PyObject *v = lgu_kt_get(a, key, h);
    if (v == NULL || v == Py_None) {
        v = lgu_kt_get(b, key, h);
        if (v == NULL) v = Py_None;
    }
    Py_INCREF(v);
    return v;
}

/* key -> value (a key held already gets the new value) */
static int lgu_kt_put(lgu_kt *t, PyObject *key, Py_hash_t h, PyObject *value) {
    size_t mask, i;
    uint8_t tag, g;
    PyObject *old;
    if ((t->used + 1) * 2 > t->cap) {
        Py_ssize_t cap = LGU_KT_MIN_CAP;
        while (cap <= (t->used + 1) * 2) cap *= 2;  /* a quarter full after growing */
        if (lgu_kt_resize(t, cap) < 0) return -1;
    }
    mask = (size_t)t->cap - 1;
    tag = lgu_kt_tag(h);
    for (i = (size_t)h & mask;; i = (i + 1) & mask) {
        g = t->tags[i];
        if (g == LGU_KT_EMPTY) break;
        if (g == tag && t->ents[i].hash == h && lgu_kt_same(t->ents[i].key, key)) {
            old = t->ents[i].value;
            Py_INCREF(value);
            t->ents[i].value = value;
            Py_DECREF(old);
            return 0;
        }
    }
    Py_INCREF(key);
    Py_INCREF(value);
    t->tags[i] = tag;
    t->ents[i].hash = h;
    t->ents[i].key = key;
    t->ents[i].value = value;
    t->used++;
    return 0;
}

/* empty slot i, moving back the keys after it in its run that would no longer be found
   (backward-shift deletion: no slot is ever marked removed, so runs never lengthen) */
static void lgu_kt_unlink(lgu_kt *t, size_t i) {
    size_t mask = (size_t)t->cap - 1, j = i, home;
    for (;;) {
        j = (j + 1) & mask;
        if (t->tags[j] == LGU_KT_EMPTY) break;
        home = (size_t)t->ents[j].hash & mask;
        /* the key at j stays when its home is cyclically within (i, j] */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j)) continue;
        t->tags[i] = t->tags[j];
        t->ents[i] = t->ents[j];
        i = j;
    }
    t->tags[i] = LGU_KT_EMPTY;
    t->ents[i].key = t->ents[i].value = NULL;
}

/* remove key: the value it had (a new reference), else None */
static PyObject *lgu_kt_take(lgu_kt *t, PyObject *key, Py_hash_t h) {
    Py_ssize_t i = lgu_kt_find(t, key, h);
    PyObject *k, *v;
    if (i < 0) {
        Py_INCREF(Py_None);
        return Py_None;
    }
    k = t->ents[i].key;
    v = t->ents[i].value;  /* the table's reference, now the caller's */
    lgu_kt_unlink(t, (size_t)i);
    t->used--;
    Py_DECREF(k);
    return v;
}

/* remove key (if held) */
static CYTHON_INLINE void lgu_kt_pop(lgu_kt *t, PyObject *key, Py_hash_t h) {
    PyObject *v = lgu_kt_take(t, key, h);
    Py_DECREF(v);
}

/* a new dict of the table's keys and values (NULL: an exception is set) */
static PyObject *lgu_kt_dict(const lgu_kt *t) {
    PyObject *d = PyDict_New();
    Py_ssize_t i;
    if (d == NULL) return NULL;
    for (i = 0; i < t->cap; i++) {
        if (t->tags[i] >= 0x80 && PyDict_SetItem(d, t->ents[i].key, t->ents[i].value) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

/* drop every key; the arrays stay, for the keys to come (a slot is emptied before its
   references go: a destructor that runs meanwhile sees only keys still held) */
static void lgu_kt_recycle(lgu_kt *t) {
    Py_ssize_t i;
    for (i = 0; i < t->cap; i++) {
        if (t->tags[i] >= 0x80) {
            PyObject *k = t->ents[i].key, *v = t->ents[i].value;
            t->tags[i] = LGU_KT_EMPTY;
            t->used--;
            Py_DECREF(k);
            Py_DECREF(v);
        }
    }
}

/* exchange two tables' contents */
static CYTHON_INLINE void lgu_kt_swap(lgu_kt *a, lgu_kt *b) {
    lgu_kt tmp = *a;
    *a = *b;
    *b = tmp;
}

/* drop every key and the arrays (the table is empty and may be used again) */
static void lgu_kt_clear(lgu_kt *t) {
    Py_ssize_t i, cap = t->cap;
    uint8_t *tags = t->tags;
    lgu_kt_entry *ents = t->ents;
    /* emptied before the references go: a value's destructor may look at the table */
    t->cap = t->used = 0;
    t->tags = NULL;
    t->ents = NULL;
    for (i = 0; i < cap; i++) {
        if (tags[i] >= 0x80) {
            Py_DECREF(ents[i].key);
            Py_DECREF(ents[i].value);
        }
    }
    PyMem_Free(tags);
    PyMem_Free(ents);
}

#endif
