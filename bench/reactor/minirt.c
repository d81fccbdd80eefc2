/* minirt: a small language runtime (a Forth-like stack language) built as a WASI
 * reactor, for the snapshot benchmark (bench/scale_out.py).
 *
 * Its start-up is what a real language runtime's is, in miniature: `init()` builds
 * the tables the language needs (a prime sieve and a prime-counting table behind
 * the `prime?` and `pi` words), registers the primitives in a hashed dictionary and
 * compiles a prelude of definitions written in the language itself.  Programs are
 * then written to `input_buffer()` and run by `run(len)`, which returns the top of
 * the stack.  A snapshot taken after `init()` starts warm.
 *
 * Build: bench/reactor/build.sh (clang --target=wasm32-wasi -mexec-model=reactor).
 */
#include <stdint.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))

#define SIEVE_N (1 << 20)
#define PI_N (1 << 18)
#define MAXWORDS 1024
#define HASH_SIZE 4096
#define CODE_CELLS (1 << 16)
#define SCRATCH (CODE_CELLS - 4096)

enum { OP_LIT, OP_CALL, OP_PRIM, OP_JZ, OP_JMP, OP_RET };
enum {
    P_ADD, P_SUB, P_MUL, P_DIV, P_MOD, P_DUP, P_DROP, P_SWAP, P_OVER, P_ROT,
    P_LT, P_GT, P_EQ, P_AND, P_OR, P_NOT, P_INC, P_DEC, P_NEG, P_ABS, P_MAX, P_MIN,
    P_TOR, P_FROMR, P_RFETCH, P_PRIME, P_PI, P_FETCH, P_STORE, NPRIMS
};
static const char *prim_names[NPRIMS] = {
    "+", "-", "*", "/", "mod", "dup", "drop", "swap", "over", "rot",
    "<", ">", "=", "and", "or", "not", "1+", "1-", "negate", "abs", "max", "min",
    ">r", "r>", "r@", "prime?", "pi", "@", "!",
};

static uint8_t composite[SIEVE_N];
static uint32_t pi_table[PI_N];
static int32_t cells[4096];   /* the language's variables: `n @`, `v n !` */

static char names[MAXWORDS][24];
static uint8_t is_prim[MAXWORDS];
static int32_t target[MAXWORDS];
static int nwords;
static int16_t hash_slots[HASH_SIZE];

static int32_t code[CODE_CELLS];
static int here;

static int32_t stack[512];
static int sp;
static int32_t rstack[4096];
static int rsp;

static char input[65536];
static int error;

static uint32_t hash(const char *s, int n) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int lookup(const char *s, int n) {
    uint32_t h = hash(s, n) & (HASH_SIZE - 1);
    while (hash_slots[h]) {
        int w = hash_slots[h] - 1;
        if ((int)strlen(names[w]) == n && memcmp(names[w], s, n) == 0) return w;
        h = (h + 1) & (HASH_SIZE - 1);
    }
    return -1;
}

static int define(const char *s, int n, int prim, int32_t t) {
    if (nwords >= MAXWORDS || n >= 24) { error = 1; return -1; }
    int w = nwords++;
    memcpy(names[w], s, n);
    names[w][n] = 0;
    is_prim[w] = prim;
    target[w] = t;
    uint32_t h = hash(s, n) & (HASH_SIZE - 1);
    while (hash_slots[h]) h = (h + 1) & (HASH_SIZE - 1);
    hash_slots[h] = w + 1;
    return w;
}

static int32_t pop(void) { return sp > 0 ? stack[--sp] : (error = 2, 0); }
static void push(int32_t v) { if (sp < 512) stack[sp++] = v; else error = 3; }

static void execute(int pc) {
    int base = rsp;
    while (!error) {
        int32_t op = code[pc++];
        if (op == OP_RET) {
            if (rsp == base) return;
            pc = rstack[--rsp];
        } else if (op == OP_LIT) {
            push(code[pc++]);
        } else if (op == OP_CALL) {
            if (rsp >= 4096) { error = 4; return; }
            rstack[rsp++] = pc + 1;
            pc = code[pc];
        } else if (op == OP_JZ) {
            int32_t t = code[pc++];
            if (!pop()) pc = t;
        } else if (op == OP_JMP) {
            pc = code[pc];
        } else {
            int32_t p = code[pc++], a, b, c;
            switch (p) {
            case P_ADD: b = pop(); a = pop(); push(a + b); break;
            case P_SUB: b = pop(); a = pop(); push(a - b); break;
            case P_MUL: b = pop(); a = pop(); push(a * b); break;
            case P_DIV: b = pop(); a = pop(); push(b ? a / b : 0); break;
            case P_MOD: b = pop(); a = pop(); push(b ? a % b : 0); break;
            case P_DUP: a = pop(); push(a); push(a); break;
            case P_DROP: pop(); break;
            case P_SWAP: b = pop(); a = pop(); push(b); push(a); break;
            case P_OVER: b = pop(); a = pop(); push(a); push(b); push(a); break;
            case P_ROT: c = pop(); b = pop(); a = pop(); push(b); push(c); push(a); break;
            case P_LT: b = pop(); a = pop(); push(a < b); break;
            case P_GT: b = pop(); a = pop(); push(a > b); break;
            case P_EQ: b = pop(); a = pop(); push(a == b); break;
            case P_AND: b = pop(); a = pop(); push(a && b); break;
            case P_OR: b = pop(); a = pop(); push(a || b); break;
            case P_NOT: push(!pop()); break;
            case P_INC: push(pop() + 1); break;
            case P_DEC: push(pop() - 1); break;
            case P_NEG: push(-pop()); break;
            case P_ABS: a = pop(); push(a < 0 ? -a : a); break;
            case P_MAX: b = pop(); a = pop(); push(a > b ? a : b); break;
            case P_MIN: b = pop(); a = pop(); push(a < b ? a : b); break;
            case P_TOR: rstack[rsp++] = pop(); break;
            case P_FROMR: push(rstack[--rsp]); break;
            case P_RFETCH: push(rstack[rsp - 1]); break;
            case P_PRIME: a = pop(); push(a >= 2 && a < SIEVE_N && !composite[a]); break;
            case P_PI: a = pop(); push(a >= 0 && a < PI_N ? (int32_t)pi_table[a] : -1); break;
            case P_FETCH: a = pop(); push(cells[a & 4095]); break;
            case P_STORE: a = pop(); b = pop(); cells[a & 4095] = b; break;
            default: error = 5; return;
            }
        }
    }
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static int parse_number(const char *s, int n, int32_t *out) {
    int i = 0, neg = 0;
    int32_t v = 0;
    if (n > 1 && s[0] == '-') { neg = 1; i = 1; }
    if (i >= n) return 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

/* Compile and run `src`: definitions go to the code area, the rest runs from a
 * scratch area.  Returns the top of the stack (0 when empty), -1 on error. */
static int32_t interpret(const char *src, int len) {
    int ctl[64], nctl = 0;
    int defining = -1, scratch = SCRATCH, i = 0;
    int *pc = &scratch;
    error = 0;
    while (i < len && !error) {
        while (i < len && is_space(src[i])) i++;
        int start = i;
        while (i < len && !is_space(src[i])) i++;
        int n = i - start;
        if (!n) break;
        const char *t = src + start;
        int32_t v;
        if (n == 1 && t[0] == ':') {
            while (i < len && is_space(src[i])) i++;
            int s2 = i;
            while (i < len && !is_space(src[i])) i++;
            defining = define(src + s2, i - s2, 0, here);
            pc = &here;
        } else if (n == 1 && t[0] == ';') {
            code[(*pc)++] = OP_RET;
            defining = -1;
            pc = &scratch;
        } else if (n == 2 && !memcmp(t, "if", 2)) {
            code[(*pc)++] = OP_JZ; ctl[nctl++] = (*pc)++;
        } else if (n == 4 && !memcmp(t, "else", 4)) {
            code[(*pc)++] = OP_JMP;
            int hole = (*pc)++;
            code[ctl[--nctl]] = *pc;
            ctl[nctl++] = hole;
        } else if (n == 4 && !memcmp(t, "then", 4)) {
            code[ctl[--nctl]] = *pc;
        } else if (n == 5 && !memcmp(t, "begin", 5)) {
            ctl[nctl++] = *pc;
        } else if (n == 5 && !memcmp(t, "until", 5)) {
            code[(*pc)++] = OP_JZ; code[(*pc)++] = ctl[--nctl];
        } else if (n == 7 && !memcmp(t, "recurse", 7)) {
            code[(*pc)++] = OP_CALL; code[(*pc)++] = target[defining];
        } else if (parse_number(t, n, &v)) {
            code[(*pc)++] = OP_LIT; code[(*pc)++] = v;
        } else {
            int w = lookup(t, n);
            if (w < 0) { error = 6; break; }
            code[(*pc)++] = is_prim[w] ? OP_PRIM : OP_CALL;
            code[(*pc)++] = target[w];
        }
        if (here >= SCRATCH || scratch >= CODE_CELLS - 4 || nctl < 0 || nctl >= 64) error = 7;
    }
    if (error) return -1;
    code[scratch++] = OP_RET;
    sp = 0;
    rsp = 0;
    execute(SCRATCH);
    if (error) return -1;
    return sp ? stack[sp - 1] : 0;
}

static const char prelude[] =
    ": square dup * ; "
    ": cube dup dup * * ; "
    ": fact dup 2 < if drop 1 else dup 1- recurse * then ; "
    ": fib dup 2 < if else dup 1- recurse swap 2 - recurse + then ; "
    ": gcd begin dup 0 = not if swap over mod 0 else 1 then until drop ; "
    ": sum-to 0 swap begin dup 0 > if swap over + swap 1- 0 else 1 then until drop ; "
    ": count-primes 0 swap begin dup 1 > if dup prime? rot + swap 1- 0 else 1 then until drop ; "
    ": nth-prime 0 swap begin over prime? if 1- then dup 0 = if 1 else swap 1+ swap 0 then until drop ; "
    ": collatz 0 swap begin dup 1 > if dup 2 mod if 3 * 1+ else 2 / then swap 1+ swap 0 else 1 then until drop ; "
    ": max-collatz 0 swap begin dup 0 > if dup collatz rot max swap 1- 0 else 1 then until drop ; ";

EXPORT("init") void init(void) {
    /* the tables: a sieve of Eratosthenes and the prime-counting function */
    for (int i = 2; (int64_t)i * i < SIEVE_N; i++)
        if (!composite[i])
            for (int j = i * i; j < SIEVE_N; j += i) composite[j] = 1;
    uint32_t count = 0;
    for (int i = 0; i < PI_N; i++) {
        if (i >= 2 && !composite[i]) count++;
        pi_table[i] = count;
    }
    /* the dictionary: primitives, then the prelude compiled */
    for (int p = 0; p < NPRIMS; p++) define(prim_names[p], strlen(prim_names[p]), 1, p);
    interpret(prelude, sizeof prelude - 1);
}

EXPORT("input_buffer") char *input_buffer(void) { return input; }

EXPORT("run") int32_t run(int32_t len) {
    if (len < 0 || len > (int32_t)sizeof input) return -1;
    return interpret(input, len);
}

EXPORT("words") int32_t words(void) { return nwords; }
