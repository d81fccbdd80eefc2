/* trap: fault in the way argv[1] names, after printing a line. */
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) static void do_unreachable(void) { __builtin_trap(); }

__attribute__((noinline)) static int do_divzero(volatile int d) { return 100 / d; }

__attribute__((noinline)) static int do_oob(void) {
    volatile int *p = (volatile int *)0xFFFFFFF0u;
    return *p;
}

typedef int (*fn_t)(void);
__attribute__((noinline)) static int do_badcall(void) {
    volatile fn_t f = (fn_t)(unsigned long)12345;
    return f();
}

__attribute__((noinline)) static int do_recurse(volatile int n) {
    volatile char pad[16];
    pad[n & 15] = (char)n;
    return do_recurse(n + 1) + pad[0];
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "unreachable";
    printf("about to trap: %s\n", what);
    fflush(stdout);
    if (!strcmp(what, "unreachable")) do_unreachable();
    else if (!strcmp(what, "divzero")) return do_divzero(0);
    else if (!strcmp(what, "oob")) return do_oob();
    else if (!strcmp(what, "badcall")) return do_badcall();
    else if (!strcmp(what, "recurse")) return do_recurse(0);
    printf("no trap\n");
    return 0;
}
