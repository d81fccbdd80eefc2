/* A C program built for Zig's default wasm CPU ("lime1": bulk memory, extended
 * constant expressions, multi-value, mutable globals, non-trapping float-to-int,
 * sign extension, overlong call_indirect table indices).  build.sh builds it twice:
 * as a plain executable (which uses bulk memory, sign extension, saturating
 * conversions and the new call_indirect encoding), and as a position-independent
 * executable, whose GOT entries are extended constant expressions
 * (__memory_base + offset) and whose data/element segments sit at imported bases. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int table[8] = {3, 1, 4, 1, 5, 9, 2, 6};
static int *ptrs[4] = {&table[1], &table[3], &table[5], &table[7]};
static const char *words[] = {"alpha", "beta", "gamma", "delta"};

typedef long long (*binop)(long long, long long);
static long long add(long long a, long long b) { return a + b; }
static long long mul(long long a, long long b) { return a * b; }
static long long sub(long long a, long long b) { return a - b; }
static binop ops[] = {add, mul, sub};

__attribute__((noinline)) static int convert(double d) { return (int)d; }   /* saturating */
__attribute__((noinline)) static int widen(unsigned x) { return (signed char)x + (short)(x * 977); }

int main(int argc, char **argv) {
    char buf[200];
    memset(buf, '.', sizeof buf);           /* memory.fill */
    memcpy(buf + 3, "copied", 6);           /* memory.copy */
    memmove(buf + 1, buf + 3, 6);
    buf[40] = 0;
    printf("buf: %s\n", buf);

    long long sum = 0;
    for (int i = 0; i < 4; i++)
        sum += *ptrs[i];
    printf("sum of pointed-to: %lld\n", sum);

    long long acc = 7;
    for (int i = 0; i < 30; i++)
        acc = ops[i % 3](acc, i + 2);        /* call_indirect */
    printf("ops: %lld\n", acc);

    volatile double big = 1e30, nan = 0.0 / 0.0, neg = -3.99;
    printf("convert: %d %d %d\n", convert(big), convert(nan), convert(neg));
    unsigned long h = 5381;
    for (unsigned i = 0; i < 1000; i++)
        h = h * 33 + widen(i * 2654435761u);
    printf("widen hash: %lu\n", h);

    for (int i = 0; i < 4; i++)
        printf("%s%s", words[i], i < 3 ? "," : "\n");

    errno = 0;
    long v = strtol("99999999999999999999", NULL, 10);
    printf("strtol: %ld errno=%s\n", v, errno == ERANGE ? "ERANGE" : "other");
    return 0;
}
