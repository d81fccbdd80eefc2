/* A small calculator whose error handling is setjmp/longjmp, which clang lowers to
 * WebAssembly exception handling (-mllvm -wasm-enable-sjlj): every error longjmps
 * out of the recursive-descent parser back to the loop over the inputs, through
 * any number of parser frames.  Built by build.sh in two encodings: exnref
 * (try_table/throw/throw_ref) and the legacy one (try/catch/rethrow/delegate). */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf on_error;
static const char *src;
static int depth;
static long steps;

static void fail(const char *why) {
    printf("  error: %s at '%s'\n", why, *src ? src : "<end>");
    longjmp(on_error, 1 + (int)strlen(why));
}

static void skip(void) { while (*src == ' ') src++; }

static long expr(void);

static long atom(void) {
    skip();
    steps++;
    if (++depth > 200) fail("too deeply nested");
    long v;
    if (*src == '(') {
        src++;
        v = expr();
        skip();
        if (*src != ')') fail("missing )");
        src++;
    } else if (*src == '-') {
        src++;
        v = -atom();
    } else if (*src >= '0' && *src <= '9') {
        v = 0;
        while (*src >= '0' && *src <= '9') {
            v = v * 10 + (*src++ - '0');
            if (v > 100000000L) fail("number too large");
        }
    } else {
        fail("unexpected character");
    }
    depth--;
    return v;
}

static long term(void) {
    long v = atom();
    for (;;) {
        skip();
        char op = *src;
        if (op != '*' && op != '/' && op != '%') return v;
        src++;
        long r = atom();
        if (op != '*' && r == 0) fail("division by zero");
        v = op == '*' ? v * r : op == '/' ? v / r : v % r;
    }
}

static long expr(void) {
    long v = term();
    for (;;) {
        skip();
        char op = *src;
        if (op != '+' && op != '-') return v;
        src++;
        long r = term();
        v = op == '+' ? v + r : v - r;
    }
}

static const char *DEFAULT[] = {
    "1 + 2 * 3", "(1 + 2) * 3", "10 / (5 - 5)", "2 * (3 + 4", "7 % 3 + -2",
    "((((((((((1))))))))))", "12 $ 4", "999999999 * 2", "100 - 1 - 2 - 3", "",
};

int main(int argc, char **argv) {
    const char **inputs = DEFAULT;
    int n = sizeof DEFAULT / sizeof *DEFAULT;
    if (argc > 1) {
        inputs = (const char **)(argv + 1);
        n = argc - 1;
    }
    int errors = 0;
    long sum = 0;
    /* many rounds: the exception path is taken thousands of times */
    int rounds = 1;
    const char *r = getenv("ROUNDS");
    if (r) rounds = atoi(r);
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < n; i++) {
            src = inputs[i];
            depth = 0;
            if (round == 0) printf("%s\n", src);
            int code = setjmp(on_error);
            if (code == 0) {
                long v = expr();
                skip();
                if (*src) fail("trailing input");
                if (round == 0) printf("  = %ld\n", v);
                sum += v;
            } else {
                errors++;
                sum += code;
            }
        }
    }
    /* a deep one: the longjmp unwinds 200 parser levels */
    char deep[700];
    memset(deep, '(', 300);
    strcpy(deep + 300, "1");
    src = deep;
    depth = 0;
    if (setjmp(on_error) == 0) expr(); else errors++;
    printf("errors %d, sum %ld, steps %ld\n", errors, sum, steps);
    return errors > 0 ? 3 : 0;
}
