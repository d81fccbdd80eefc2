/* Word frequencies of stdin: words are runs of ASCII letters, lowercased, counted in
 * an open-addressing hash table (FNV-1a, linear probing, doubling at 70% load); prints
 * the totals and the 10 most frequent words (ties by word). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry { const char *word; uint32_t len, hash, count; };

static struct entry *table;
static size_t cap = 1024, used = 0;

static uint32_t fnv1a(const char *s, uint32_t n) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static void grow(void) {
    struct entry *old = table;
    size_t old_cap = cap;
    cap *= 2;
    table = calloc(cap, sizeof *table);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].word) {
            size_t k = old[i].hash & (cap - 1);
            while (table[k].word) k = (k + 1) & (cap - 1);
            table[k] = old[i];
        }
    free(old);
}

static void add(const char *w, uint32_t n) {
    uint32_t h = fnv1a(w, n);
    size_t k = h & (cap - 1);
    while (table[k].word) {
        if (table[k].hash == h && table[k].len == n && memcmp(table[k].word, w, n) == 0) {
            table[k].count++;
            return;
        }
        k = (k + 1) & (cap - 1);
    }
    table[k] = (struct entry){w, n, h, 1};
    if (++used * 10 > cap * 7) grow();
}

static int by_count(const void *pa, const void *pb) {
    const struct entry *a = pa, *b = pb;
    if (a->count != b->count) return a->count < b->count ? 1 : -1;
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->word, b->word, n);
    return c ? c : (int)a->len - (int)b->len;
}

int main(void) {
    size_t size = 0, room = 1 << 16;
    char *text = malloc(room);
    for (;;) {
        if (size == room) text = realloc(text, room *= 2);
        size_t got = fread(text + size, 1, room - size, stdin);
        if (got == 0) break;
        size += got;
    }
    table = calloc(cap, sizeof *table);
    size_t words = 0;
    for (size_t i = 0; i < size;) {
        char c = text[i];
        if ((c | 32) >= 'a' && (c | 32) <= 'z') {
            size_t start = i;
            for (; i < size && ((text[i] | 32) >= 'a' && (text[i] | 32) <= 'z'); i++)
                text[i] |= 32;   /* lowercase in place */
            add(text + start, (uint32_t)(i - start));
            words++;
        } else {
            i++;
        }
    }
    struct entry *all = malloc(used * sizeof *all);
    size_t m = 0;
    for (size_t i = 0; i < cap; i++)
        if (table[i].word) all[m++] = table[i];
    qsort(all, m, sizeof *all, by_count);
    printf("%zu bytes, %zu words, %zu distinct\n", size, words, m);
    for (size_t i = 0; i < m && i < 10; i++)
        printf("%u %.*s\n", all[i].count, (int)all[i].len, all[i].word);
    return 0;
}
