/* C helpers of lgucore/_tokens_c.pxd, included with `cdef extern from "lgu_scan.h"`. */
#ifndef LGU_SCAN_H
#define LGU_SCAN_H

#include <Python.h>

#include <string.h>
#include <stdint.h>
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define LGU_SSE2 1
#endif

/* One field: key [ks, ke), value [vs, ve); ks == ke == -1 for a positional field. */
typedef struct { int64_t ks, ke, vs, ve; } lgu_field;

/* Scanner output; `f` grows and is reused between calls (free with lgu_scan_free). */
typedef struct {
    lgu_field *f;
    Py_ssize_t n, cap;
    int64_t name_start, name_end;
    int ascii;          /* 1 when every byte of [start, end) is < 0x80 */
} lgu_scan_t;

static inline void lgu_scan_init(lgu_scan_t *s) { s->f = NULL; s->n = 0; s->cap = 0; s->ascii = 1;
                                           s->name_start = 0; s->name_end = 0; }
static inline void lgu_scan_free(lgu_scan_t *s) { PyMem_Free(s->f); s->f = NULL; s->n = s->cap = 0; }

static int lgu_grow(lgu_scan_t *s) {
    Py_ssize_t cap = s->cap ? s->cap * 2 : 32;
    lgu_field *f;
    if (cap > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(lgu_field)) { PyErr_NoMemory(); return -1; }
    f = (lgu_field *)PyMem_Realloc(s->f, (size_t)cap * sizeof(lgu_field));
    if (f == NULL) { PyErr_NoMemory(); return -1; }
    s->f = f; s->cap = cap;
    return 0;
}

/* a piece [ps, pe) of pipe form, `colon` its first ':' or -1 */
static inline int lgu_emit(lgu_scan_t *s, int64_t ps, int64_t colon, int64_t pe) {
    lgu_field *x;
    if (s->n == s->cap && lgu_grow(s) < 0) return -1;
    x = &s->f[s->n++];
    if (colon < 0) { x->ks = -1; x->ke = -1; x->vs = ps; x->ve = pe; }
    else { x->ks = ps; x->ke = colon; x->vs = colon + 1; x->ve = pe; }
    return 0;
}

static int lgu_is_ascii(const unsigned char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    unsigned acc = 0;
#ifdef LGU_SSE2
    for (; i + 16 <= n; i += 16)
        acc |= (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(p + i)));
    if (acc) return 0;
#endif
    for (; i < n; i++) acc |= p[i];
    return acc < 0x80;
}

#if defined(__GNUC__) || defined(__clang__)
#define LGU_CTZ64(x) __builtin_ctzll(x)
#else
static int LGU_CTZ64(uint64_t x) { int n = 0; while (!(x & 1u)) { x >>= 1; n++; } return n; }
#endif

/* Bit masks of '|', ':', '(' and of bytes >= 0x80 in the 64 bytes at q. */
static inline void lgu_masks64(const unsigned char *q, uint64_t *pm, uint64_t *cm,
                               uint64_t *lm, uint64_t *hm) {
#ifdef LGU_SSE2
    const __m128i vp = _mm_set1_epi8('|'), vc = _mm_set1_epi8(':'), vl = _mm_set1_epi8('(');
    uint64_t a = 0, c = 0, l = 0, h = 0;
    int k;
    for (k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * k));
        a |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vp)) << (16 * k);
        c |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vc)) << (16 * k);
        l |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vl)) << (16 * k);
        h |= (uint64_t)(unsigned)_mm_movemask_epi8(v) << (16 * k);
    }
    *pm = a; *cm = c; *lm = l; *hm = h;
#else
    uint64_t a = 0, c = 0, l = 0, h = 0;
    int k;
    for (k = 0; k < 64; k++) {
        unsigned char x = q[k];
        a |= (uint64_t)(x == '|') << k;
        c |= (uint64_t)(x == ':') << k;
        l |= (uint64_t)(x == '(') << k;
        h |= (uint64_t)(x >> 7) << k;
    }
    *pm = a; *cm = c; *lm = l; *hm = h;
#endif
}

/* As lgu_masks64 for a window wholly inside the body: '(' and bytes >= 0x80 are
   only needed as "any", which saves most of the movemasks. */
static inline void lgu_masks64_inner(const unsigned char *q, uint64_t *pm, uint64_t *cm,
                                     int *paren, int *high) {
#ifdef LGU_SSE2
    const __m128i vp = _mm_set1_epi8('|'), vc = _mm_set1_epi8(':'), vl = _mm_set1_epi8('(');
    __m128i v0 = _mm_loadu_si128((const __m128i *)q);
    __m128i v1 = _mm_loadu_si128((const __m128i *)(q + 16));
    __m128i v2 = _mm_loadu_si128((const __m128i *)(q + 32));
    __m128i v3 = _mm_loadu_si128((const __m128i *)(q + 48));
    __m128i l = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v0, vl), _mm_cmpeq_epi8(v1, vl)),
                             _mm_or_si128(_mm_cmpeq_epi8(v2, vl), _mm_cmpeq_epi8(v3, vl)));
    __m128i h = _mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3));
    *pm = (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v0, vp))
        | (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v1, vp)) << 16
        | (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v2, vp)) << 32
        | (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v3, vp)) << 48;
    *cm = (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v0, vc))
        | (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v1, vc)) << 16
        | (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v2, vc)) << 32
        | (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v3, vc)) << 48;
    *paren = _mm_movemask_epi8(l) != 0;
    *high = _mm_movemask_epi8(h) != 0;
#else
    uint64_t lm, hm;
    lgu_masks64(q, pm, cm, &lm, &hm);
    *paren = lm != 0;
    *high = hm != 0;
#endif
}

/* Pipe form without parentheses, 64 bytes at a time: every '|' ends a piece and
   each piece takes the first ':' after its start. Reads stay below `limit`
   (>= end): a window that would pass it is copied into a zero-padded buffer,
   bits at or past `end` are masked off. Returns 1 when a '|' was found (fields
   emitted), 0 when there is none (legacy form), 2 when a '(' is present (use
   lgu_scan_parens), -1 on memory error. */
static int lgu_scan_pipes(const unsigned char *p, int64_t start, int64_t end, int64_t limit,
                          lgu_scan_t *s) {
    int64_t piece = -1, colon = -1, base;
    uint64_t pm, cm, lm, hm, hi = 0, keep;
    unsigned char tmp[64];
    int paren, high;
    for (base = start; base < end; base += 64) {
        int64_t w = end - base;
        if (w >= 64) {
            lgu_masks64_inner(p + base, &pm, &cm, &paren, &high);
            if (paren) return 2;
            hi |= (uint64_t)high;
        } else {
            if (base + 64 <= limit) {
                lgu_masks64(p + base, &pm, &cm, &lm, &hm);
            } else {
                memset(tmp, 0, sizeof tmp);
                memcpy(tmp, p + base, (size_t)w);
                lgu_masks64(tmp, &pm, &cm, &lm, &hm);
            }
            keep = ((uint64_t)1 << w) - 1;
            if (lm & keep) return 2;
            pm &= keep; cm &= keep; hi |= hm & keep;
        }
        while (pm) {
            int b = LGU_CTZ64(pm);
            int64_t pos = base + b;
            if (piece >= 0) {
                if (colon < 0) {
                    int lo = piece > base ? (int)(piece - base) : 0;
                    uint64_t c = cm & (~(uint64_t)0 << lo) & (((uint64_t)1 << b) - 1);
                    if (c) colon = base + LGU_CTZ64(c);
                }
                if (lgu_emit(s, piece, colon, pos) < 0) return -1;
            } else {
                s->name_end = pos;
            }
            piece = pos + 1; colon = -1;
            pm &= pm - 1;
        }
        if (piece >= 0 && colon < 0 && piece < base + 64) {
            int lo = piece > base ? (int)(piece - base) : 0;
            uint64_t c = cm & (~(uint64_t)0 << lo);
            if (c) colon = base + LGU_CTZ64(c);
        }
    }
    if (piece < 0) return 0;
    if (lgu_emit(s, piece, colon, end) < 0) return -1;
    s->name_start = start;
    s->ascii = hi == 0;
    return 1;
}

/* Pipe form with parentheses: a '|' inside (...) belongs to the value. */
static int lgu_scan_parens(const unsigned char *p, int64_t start, int64_t end, lgu_scan_t *s) {
    int64_t piece = -1, colon = -1, i;
    Py_ssize_t depth = 0;
    s->n = 0;
    for (i = start; i < end; i++) {
        unsigned char c = p[i];
        if (c == '(') depth++;
        else if (c == ')') { if (depth) depth--; }
        else if (c == '|' && depth == 0) {
            if (piece < 0) s->name_end = i;
            else if (lgu_emit(s, piece, colon, i) < 0) return -1;
            piece = i + 1; colon = -1;
        } else if (c == ':' && piece >= 0 && colon < 0) colon = i;
    }
    if (piece < 0) { s->n = 0; return 0; }
    if (lgu_emit(s, piece, colon, end) < 0) return -1;
    s->name_start = start;
    return 1;
}

/* Legacy space form (no '|' outside parentheses): words; a word without ':'
   continues the previous field's value. */
static int lgu_scan_legacy(const unsigned char *p, int64_t start, int64_t end, lgu_scan_t *s) {
    int64_t i = start, j, c;
    s->n = 0;
    while (i < end && p[i] == ' ') i++;
    s->name_start = i;
    j = i;
    while (j < end && p[j] != ' ') j++;
    s->name_end = j;
    i = j;
    while (i < end) {
        while (i < end && p[i] == ' ') i++;
        if (i >= end) break;
        c = -1;
        for (j = i; j < end && p[j] != ' '; j++)
            if (c < 0 && p[j] == ':') c = j;
        if (c >= 0) {
            if (lgu_emit(s, i, c, j) < 0) return -1;
        } else if (s->n) {
            lgu_field *x = &s->f[s->n - 1];
            if (x->vs == x->ve) x->vs = i;
            x->ve = j;
        } else {
            if (lgu_emit(s, i, -1, j) < 0) return -1;
        }
        i = j;
    }
    return 0;
}

/* The whole grammar of one body [start, end) of p; bytes up to `limit` (>= end)
   may be read but never count. 0 on success, -1 with an exception set. */
static int lgu_scan(const unsigned char *p, int64_t start, int64_t end, int64_t limit,
                    lgu_scan_t *s) {
    int r;
    s->n = 0;
    r = lgu_scan_pipes(p, start, end, limit, s);
    if (r == 1) return 0;
    if (r < 0) return -1;
    s->n = 0;
    if (r == 2) {
        r = lgu_scan_parens(p, start, end, s);
        if (r < 0) return -1;
        if (r == 0 && lgu_scan_legacy(p, start, end, s) < 0) return -1;
    } else if (lgu_scan_legacy(p, start, end, s) < 0) {
        return -1;
    }
    s->ascii = lgu_is_ascii(p + start, (Py_ssize_t)(end - start));
    return 0;
}

#endif /* LGU_SCAN_H */
