/* Three sorts of the same pseudo-random integers: quicksort (Hoare partition) calling
 * its comparator through a function pointer, top-down merge sort, LSD radix sort. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*cmp_fn)(int32_t, int32_t);

static int cmp_asc(int32_t x, int32_t y) { return (x > y) - (x < y); }

/* volatile so that clang cannot see which comparator quicksort gets: the calls stay
 * indirect (call_indirect), as with qsort */
static cmp_fn volatile the_cmp = cmp_asc;

static void quick(int32_t *v, long lo, long hi, cmp_fn cmp) {
    while (lo < hi) {
        int32_t p = v[lo + (hi - lo) / 2];
        long i = lo - 1, j = hi + 1;
        for (;;) {
            do i++; while (cmp(v[i], p) < 0);
            do j--; while (cmp(v[j], p) > 0);
            if (i >= j) break;
            int32_t t = v[i]; v[i] = v[j]; v[j] = t;
        }
        if (j - lo < hi - j) { quick(v, lo, j, cmp); lo = j + 1; }
        else { quick(v, j + 1, hi, cmp); hi = j; }
    }
}

static void merge_sort(uint32_t *v, uint32_t *tmp, size_t n) {
    if (n < 2) return;
    size_t m = n / 2, i = 0, j = m, k = 0;
    merge_sort(v, tmp, m);
    merge_sort(v + m, tmp, n - m);
    while (i < m && j < n) tmp[k++] = v[j] < v[i] ? v[j++] : v[i++];
    while (i < m) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static void radix_sort(uint32_t *v, uint32_t *tmp, size_t n) {
    for (int shift = 0; shift < 32; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[((v[i] >> shift) & 0xFF) + 1]++;
        for (int d = 0; d < 256; d++) count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++) tmp[count[(v[i] >> shift) & 0xFF]++] = v[i];
        uint32_t *t = v; v = tmp; tmp = t;   /* four passes: ends back in the caller's v */
    }
}

static uint64_t checksum(const uint32_t *v, size_t n) {
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum = sum * 31 + v[i];
    return sum;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    uint32_t *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4), *tmp = malloc(n * 4);
    uint32_t x = 42;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        a[i] = b[i] = c[i] = x % 1000000;
    }
    quick((int32_t *)a, 0, (long)n - 1, the_cmp);
    merge_sort(b, tmp, n);
    radix_sort(c, tmp, n);
    int same = memcmp(a, b, n * 4) == 0 && memcmp(a, c, n * 4) == 0;
    for (size_t i = 1; i < n; i++)
        if (a[i - 1] > a[i]) same = 0;
    printf("sorted %zu ints three ways: %s, checksum %llu, median %u\n", n,
           same ? "agree" : "DISAGREE", (unsigned long long)checksum(a, n), n ? a[n / 2] : 0);
    return 0;
}
