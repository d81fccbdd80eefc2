/* LZ77 (LZSS) compression and decompression of generated text: a 4 KiB window,
 * matches of 3..18 bytes found through hash chains (at most 32 candidates), a flag
 * byte per 8 items; the round trip is checked and the output's Adler-32 printed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 4096
#define MIN_MATCH 3
#define MAX_MATCH 18
#define MAX_CHAIN 32

static const char *const syllables[] = {
    "ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "en", "da", " ", " ", " ", ", ", ". ", "\n",
};

static int head[4096], prev[WINDOW];

static unsigned hash3(const uint8_t *p) { return ((p[0] << 8) ^ (p[1] << 4) ^ p[2]) & 4095; }

static size_t compress(const uint8_t *in, size_t n, uint8_t *out) {
    size_t o = 0, flag_at = 0, i = 0;
    int items = 8;
    for (int k = 0; k < 4096; k++) head[k] = -1;
    while (i < n) {
        if (items == 8) { flag_at = o; out[o++] = 0; items = 0; }
        size_t best_len = 0, best_off = 0;
        if (i + MIN_MATCH <= n) {
            size_t limit = n - i < MAX_MATCH ? n - i : MAX_MATCH;
            int cand = head[hash3(in + i)];
            for (int chain = 0; chain < MAX_CHAIN && cand >= 0 && i - (size_t)cand <= WINDOW; chain++) {
                size_t len = 0;
                while (len < limit && in[cand + len] == in[i + len]) len++;
                if (len > best_len) { best_len = len; best_off = i - (size_t)cand; if (len == limit) break; }
                cand = prev[cand & (WINDOW - 1)];
            }
        }
        size_t step = 1;
        if (best_len >= MIN_MATCH) {
            out[flag_at] |= (uint8_t)(1 << items);
            size_t code = (best_off - 1) << 4 | (best_len - MIN_MATCH);
            out[o++] = (uint8_t)(code >> 8);
            out[o++] = (uint8_t)code;
            step = best_len;
        } else {
            out[o++] = in[i];
        }
        items++;
        for (size_t j = i; j < i + step; j++)
            if (j + MIN_MATCH <= n) {
                unsigned h = hash3(in + j);
                prev[j & (WINDOW - 1)] = head[h];
                head[h] = (int)j;
            }
        i += step;
    }
    return o;
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t flags = in[i++];
        for (int k = 0; k < 8 && i < n; k++) {
            if (flags >> k & 1) {
                size_t code = (size_t)in[i] << 8 | in[i + 1];
                i += 2;
                size_t off = (code >> 4) + 1, len = (code & 15) + MIN_MATCH;
                for (size_t j = 0; j < len; j++, o++) out[o] = out[o - off];
            } else {
                out[o++] = in[i++];
            }
        }
    }
    return o;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 100000;
    uint8_t *text = malloc(n + 2), *packed = malloc(n + n / 8 + 16), *back = malloc(n + 1);
    size_t t = 0;
    uint32_t x = 2024;
    while (t < n) {
        x = x * 1103515245u + 12345u;
        const char *s = syllables[(x >> 16) % 16];
        for (; *s && t < n; s++) text[t++] = (uint8_t)*s;
    }
    size_t m = compress(text, n, packed);
    size_t r = decompress(packed, m, back);
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < m; i++) { a = (a + packed[i]) % 65521; b = (b + a) % 65521; }
    printf("lz77: %zu bytes -> %zu bytes, round trip %s, adler32 %08x\n", n, m,
           r == n && memcmp(text, back, n) == 0 ? "ok" : "FAILED", b << 16 | a);
    return 0;
}
