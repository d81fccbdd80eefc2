/* Sort pseudo-random integers with libc's qsort: indirect calls to a comparator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    int32_t *v = malloc(n * sizeof *v);
    uint32_t x = 42;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        v[i] = (int32_t)(x % 1000000);
    }
    qsort(v, n, sizeof *v, cmp);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && v[i - 1] > v[i]) { puts("not sorted"); return 1; }
        sum = sum * 31 + (uint32_t)v[i];
    }
    printf("sorted %zu ints, checksum %llu\n", n, (unsigned long long)sum);
    free(v);
    return 0;
}
