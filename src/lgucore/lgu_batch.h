/* C helpers of lgucore/_batch_c.pyx, included with `cdef extern from "lgu_batch.h"`. */
#ifndef LGU_BATCH_H
#define LGU_BATCH_H

#include <Python.h>
#include "lgu_scan.h"   /* lgu_scan_t, lgu_grow */

#if defined(__GNUC__) || defined(__clang__)
#define lgu_prefetch(p) __builtin_prefetch((const void *)(p))
#else
#define lgu_prefetch(p) ((void)0)
#endif

static int lgu_grow_public(lgu_scan_t *s) { return lgu_grow(s); }

#endif /* LGU_BATCH_H */
