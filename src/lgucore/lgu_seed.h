/* C helpers of lgucore/_cipher_c.pyx, included with `cdef extern from "lgu_seed.h"`. */
#ifndef LGU_SEED_H
#define LGU_SEED_H

#include <Python.h>

#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- SEED-128 */
static uint32_t lgu_SS[4][256];

#define LGU_G(x) (lgu_SS[0][(x) & 0xffu] ^ lgu_SS[1][((x) >> 8) & 0xffu] ^ \
                  lgu_SS[2][((x) >> 16) & 0xffu] ^ lgu_SS[3][(x) >> 24])

static inline uint32_t lgu_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline void lgu_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* One Feistel round: B is the half fed to F, A the half it is xored into. The round key
   is folded into A's copy early so that only G/add/G/add/G/add sits on the dependency chain. */
#define LGU_ROUND(A0, A1, B0, B1, K) do {                      \
        uint32_t c_ = (B0) ^ (K)[0];                             \
        uint32_t d_ = (B1) ^ (K)[1] ^ c_;                        \
        d_ = LGU_G(d_);                                          \
        c_ = LGU_G(c_ + d_);                                     \
        d_ = LGU_G(d_ + c_);                                     \
        c_ += d_;                                                \
        (A0) ^= c_; (A1) ^= d_;                                  \
    } while (0)

/* G with its xors as a tree (two levels, not a chain of three). Byte 1 is taken with
   shift-then-mask: left alone, x86 compilers read it from a high-byte register (%ah),
   which costs ~3 extra cycles of latency, and G is the whole critical path of SEED. */
static inline uint32_t lgu_byte1(uint32_t x) {
    uint32_t t = x >> 8;
#if defined(__GNUC__)
    __asm__("" : "+r"(t));
#endif
    return t & 0xffu;
}
static inline uint32_t lgu_g(uint32_t x) {
    uint32_t a = lgu_SS[0][x & 0xffu] ^ lgu_SS[3][x >> 24];
    uint32_t b = lgu_SS[1][lgu_byte1(x)] ^ lgu_SS[2][(x >> 16) & 0xffu];
    return a ^ b;
}

/* x[0..3] (big-endian words of one block) through 16 rounds under round keys k[0..33]
   (k[32], k[33] are zero padding). SEED is latency-bound: each round is three dependent
   table lookups (G), so the next round's keyed inputs are prepared from the other half
   while G runs, leaving only add+xor between one round's last G and the next one's first.
   The empty asm keeps the compiler from re-associating that xor back onto the chain. */
static inline void lgu_seed_words(const uint32_t *k, uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3) {
    uint32_t L0 = *x0, L1 = *x1, R0 = *x2, R1 = *x3;
    uint32_t c = R0 ^ k[0];
    uint32_t d = R1 ^ k[1] ^ c;
    for (int r = 0; r < 16; r++) {
        uint32_t P = L0 ^ k[2 * r + 2];
        uint32_t Q = L1 ^ k[2 * r + 3] ^ P;
        uint32_t g1 = lgu_g(d);
        uint32_t g2 = lgu_g(c + g1);
        uint32_t g3 = lgu_g(g1 + g2);
        uint32_t co = g2 + g3;
        uint32_t nR0 = L0 ^ co, nR1 = L1 ^ g3;
        uint32_t t = Q ^ g3;
#if defined(__GNUC__)
        __asm__("" : "+r"(t));
#endif
        c = P ^ co;
        d = t ^ co;
        L0 = R0; L1 = R1; R0 = nR0; R1 = nR1;
    }
    *x0 = R0; *x1 = R1; *x2 = L0; *x3 = L1;
}

static uint32_t lgu_seed_g(uint32_t x) { return LGU_G(x); }

static void lgu_seed_block(const uint32_t *k, const uint8_t *in, uint8_t *out) {
    uint32_t a = lgu_be32(in), b = lgu_be32(in + 4), c = lgu_be32(in + 8), d = lgu_be32(in + 12);
    lgu_seed_words(k, &a, &b, &c, &d);
    lgu_put_be32(out, a); lgu_put_be32(out + 4, b); lgu_put_be32(out + 8, c); lgu_put_be32(out + 12, d);
}

/* CBC encryption of nblk whole blocks; chain[4] is the IV in and the last block out. */
static void lgu_seed_cbc_enc(const uint32_t *k, uint32_t *chain, const uint8_t *in, uint8_t *out, size_t nblk) {
    uint32_t a = chain[0], b = chain[1], c = chain[2], d = chain[3];
    for (size_t i = 0; i < nblk; i++, in += 16, out += 16) {
        a ^= lgu_be32(in); b ^= lgu_be32(in + 4); c ^= lgu_be32(in + 8); d ^= lgu_be32(in + 12);
        lgu_seed_words(k, &a, &b, &c, &d);
        lgu_put_be32(out, a); lgu_put_be32(out + 4, b); lgu_put_be32(out + 8, c); lgu_put_be32(out + 12, d);
    }
    chain[0] = a; chain[1] = b; chain[2] = c; chain[3] = d;
}

/* CBC decryption of nblk whole blocks of in (prev = the IV or the block before in[0]).
   Two blocks at a time: they are independent, so their rounds overlap in the pipeline. */
static void lgu_seed_cbc_dec(const uint32_t *k, const uint8_t *prev, const uint8_t *in, uint8_t *out, size_t nblk) {
    uint32_t p0 = lgu_be32(prev), p1 = lgu_be32(prev + 4), p2 = lgu_be32(prev + 8), p3 = lgu_be32(prev + 12);
    size_t i = 0;
    for (; i + 2 <= nblk; i += 2, in += 32, out += 32) {
        uint32_t a = lgu_be32(in), b = lgu_be32(in + 4), c = lgu_be32(in + 8), d = lgu_be32(in + 12);
        uint32_t e = lgu_be32(in + 16), f = lgu_be32(in + 20), g = lgu_be32(in + 24), h = lgu_be32(in + 28);
        uint32_t A = a, B = b, C = c, D = d, E = e, F = f, G = g, H = h;
        uint32_t L0 = a, L1 = b, R0 = c, R1 = d, M0 = e, M1 = f, S0 = g, S1 = h;
        for (int r = 0; r < 32; r += 4) {
            LGU_ROUND(L0, L1, R0, R1, k + r);     LGU_ROUND(M0, M1, S0, S1, k + r);
            LGU_ROUND(R0, R1, L0, L1, k + r + 2); LGU_ROUND(S0, S1, M0, M1, k + r + 2);
        }
        lgu_put_be32(out, R0 ^ p0); lgu_put_be32(out + 4, R1 ^ p1);
        lgu_put_be32(out + 8, L0 ^ p2); lgu_put_be32(out + 12, L1 ^ p3);
        lgu_put_be32(out + 16, S0 ^ A); lgu_put_be32(out + 20, S1 ^ B);
        lgu_put_be32(out + 24, M0 ^ C); lgu_put_be32(out + 28, M1 ^ D);
        p0 = E; p1 = F; p2 = G; p3 = H;
    }
    for (; i < nblk; i++, in += 16, out += 16) {
        uint32_t a = lgu_be32(in), b = lgu_be32(in + 4), c = lgu_be32(in + 8), d = lgu_be32(in + 12);
        uint32_t A = a, B = b, C = c, D = d;
        lgu_seed_words(k, &a, &b, &c, &d);
        lgu_put_be32(out, a ^ p0); lgu_put_be32(out + 4, b ^ p1);
        lgu_put_be32(out + 8, c ^ p2); lgu_put_be32(out + 12, d ^ p3);
        p0 = A; p1 = B; p2 = C; p3 = D;
    }
}

/* ---------------------------------------------------------------- Base64 */
static uint16_t lgu_E12[4096];          /* 12 bits -> two alphabet bytes, in memory order */
static uint32_t lgu_D[4][256];          /* char -> its 6 bits at 18/12/6/0; 0x01000000 if not alphabet */
#define LGU_BAD 0x01000000u

static size_t lgu_b64_len(size_t n) { return (n + 2) / 3 * 4; }

static void lgu_b64_encode(const uint8_t *s, size_t n, uint8_t *o) {
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 12 <= n; i += 12, s += 12, o += 16) {
        uint32_t v0 = ((uint32_t)s[0] << 16) | ((uint32_t)s[1] << 8) | s[2];
        uint32_t v1 = ((uint32_t)s[3] << 16) | ((uint32_t)s[4] << 8) | s[5];
        uint32_t v2 = ((uint32_t)s[6] << 16) | ((uint32_t)s[7] << 8) | s[8];
        uint32_t v3 = ((uint32_t)s[9] << 16) | ((uint32_t)s[10] << 8) | s[11];
        memcpy(o, &lgu_E12[v0 >> 12], 2);      memcpy(o + 2, &lgu_E12[v0 & 0xfff], 2);
        memcpy(o + 4, &lgu_E12[v1 >> 12], 2);  memcpy(o + 6, &lgu_E12[v1 & 0xfff], 2);
        memcpy(o + 8, &lgu_E12[v2 >> 12], 2);  memcpy(o + 10, &lgu_E12[v2 & 0xfff], 2);
        memcpy(o + 12, &lgu_E12[v3 >> 12], 2); memcpy(o + 14, &lgu_E12[v3 & 0xfff], 2);
    }
    for (; i + 3 <= n; i += 3, s += 3, o += 4) {
        uint32_t v = ((uint32_t)s[0] << 16) | ((uint32_t)s[1] << 8) | s[2];
        memcpy(o, &lgu_E12[v >> 12], 2); memcpy(o + 2, &lgu_E12[v & 0xfff], 2);
    }
    if (n - i == 1) {
        o[0] = alpha[s[0] >> 2]; o[1] = alpha[(s[0] & 3) << 4]; o[2] = '='; o[3] = '=';
    } else if (n - i == 2) {
        o[0] = alpha[s[0] >> 2]; o[1] = alpha[((s[0] & 3) << 4) | (s[1] >> 4)];
        o[2] = alpha[(s[1] & 15) << 2]; o[3] = '=';
    }
}

/* Decoded length of a strict layer of n bytes, or -1 when n is not a multiple of 4
   or the padding is visibly wrong (the decoder re-checks everything). */
static ptrdiff_t lgu_b64_dlen(const uint8_t *s, size_t n) {
    if (n & 3) return -1;
    if (n == 0) return 0;
    if (s[n - 1] != '=') return (ptrdiff_t)(n / 4 * 3);
    return (ptrdiff_t)(n / 4 * 3) - 1 - (s[n - 2] == '=');
}

/* Strict decode of n bytes (n % 4 == 0, n > 0) into o (room for lgu_b64_dlen bytes).
   Returns 0, or -1 on any fault (the caller finds and explains it on a slow path). */
static int lgu_b64_decode(const uint8_t *s, size_t n, uint8_t *o) {
    uint32_t bad = 0;
    size_t q = n / 4 - 1, i = 0;
    for (; i + 4 <= q; i += 4, s += 16, o += 12) {
        uint32_t v0 = lgu_D[0][s[0]] | lgu_D[1][s[1]] | lgu_D[2][s[2]] | lgu_D[3][s[3]];
        uint32_t v1 = lgu_D[0][s[4]] | lgu_D[1][s[5]] | lgu_D[2][s[6]] | lgu_D[3][s[7]];
        uint32_t v2 = lgu_D[0][s[8]] | lgu_D[1][s[9]] | lgu_D[2][s[10]] | lgu_D[3][s[11]];
        uint32_t v3 = lgu_D[0][s[12]] | lgu_D[1][s[13]] | lgu_D[2][s[14]] | lgu_D[3][s[15]];
        bad |= v0 | v1 | v2 | v3;
        o[0] = (uint8_t)(v0 >> 16); o[1] = (uint8_t)(v0 >> 8); o[2] = (uint8_t)v0;
        o[3] = (uint8_t)(v1 >> 16); o[4] = (uint8_t)(v1 >> 8); o[5] = (uint8_t)v1;
        o[6] = (uint8_t)(v2 >> 16); o[7] = (uint8_t)(v2 >> 8); o[8] = (uint8_t)v2;
        o[9] = (uint8_t)(v3 >> 16); o[10] = (uint8_t)(v3 >> 8); o[11] = (uint8_t)v3;
    }
    for (; i < q; i++, s += 4, o += 3) {
        uint32_t v = lgu_D[0][s[0]] | lgu_D[1][s[1]] | lgu_D[2][s[2]] | lgu_D[3][s[3]];
        bad |= v;
        o[0] = (uint8_t)(v >> 16); o[1] = (uint8_t)(v >> 8); o[2] = (uint8_t)v;
    }
    if (s[3] == '=') {
        if (s[2] == '=') {
            uint32_t v = lgu_D[0][s[0]] | lgu_D[1][s[1]];
            if ((bad | v) & LGU_BAD || v & 0xf000u) return -1;
            o[0] = (uint8_t)(v >> 16);
        } else {
            uint32_t v = lgu_D[0][s[0]] | lgu_D[1][s[1]] | lgu_D[2][s[2]];
            if ((bad | v) & LGU_BAD || v & 0xc0u) return -1;
            o[0] = (uint8_t)(v >> 16); o[1] = (uint8_t)(v >> 8);
        }
    } else {
        uint32_t v = lgu_D[0][s[0]] | lgu_D[1][s[1]] | lgu_D[2][s[2]] | lgu_D[3][s[3]];
        if ((bad | v) & LGU_BAD) return -1;
        o[0] = (uint8_t)(v >> 16); o[1] = (uint8_t)(v >> 8); o[2] = (uint8_t)v;
    }
    return 0;
}

/* ---------------------------------------------------------------- basic cipher */
static void lgu_xor(const uint8_t *s, size_t n, const uint8_t *k, size_t kn, uint8_t *o) {
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        o[i] = s[i] ^ k[j];
        if (++j == kn) j = 0;
    }
}

#endif /* LGU_SEED_H */
