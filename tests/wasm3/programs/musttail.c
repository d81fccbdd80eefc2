/* Tail calls in C (clang's musttail, built with -mtail-call): 10 million steps of
 * a threaded bytecode interpreter whose handlers tail-call the next handler through
 * a table of function pointers (return_call_indirect), and a mutual recursion of
 * 10 million steps (return_call).  Without tail calls either would need ten million
 * stack frames. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct vm vm;
typedef uint64_t (*handler)(vm *m, uint32_t pc, uint64_t acc, uint64_t steps);
struct vm {
    const uint8_t *code;
    const handler *ops;
    uint64_t limit;
};

#define NEXT(m, pc, acc, steps) \
    __attribute__((musttail)) return (m)->ops[(m)->code[pc]]((m), (pc), (acc), (steps))

__attribute__((noinline)) static uint64_t op_add(vm *m, uint32_t pc, uint64_t acc, uint64_t steps) {
    acc += m->code[pc + 1];
    NEXT(m, pc + 2, acc, steps + 1);
}

__attribute__((noinline)) static uint64_t op_mul(vm *m, uint32_t pc, uint64_t acc, uint64_t steps) {
    acc *= m->code[pc + 1];
    NEXT(m, pc + 2, acc, steps + 1);
}

__attribute__((noinline)) static uint64_t op_xor(vm *m, uint32_t pc, uint64_t acc, uint64_t steps) {
    acc ^= acc >> 13;
    NEXT(m, pc + 1, acc, steps + 1);
}

__attribute__((noinline)) static uint64_t op_jump(vm *m, uint32_t pc, uint64_t acc, uint64_t steps) {
    if (steps >= m->limit)
        return acc ^ steps;
    NEXT(m, 0, acc, steps + 1);
}

static const handler OPS[] = {op_add, op_mul, op_xor, op_jump};
/* add 7; mul 31; xor; add 3; jump 0 */
static const uint8_t CODE[] = {0, 7, 1, 31, 2, 0, 3, 3};

__attribute__((noinline)) static uint64_t odd(uint64_t n, uint64_t acc);

__attribute__((noinline)) static uint64_t even(uint64_t n, uint64_t acc) {
    if (n == 0)
        return acc;
    __attribute__((musttail)) return odd(n - 1, acc * 6364136223846793005ULL + n);
}

__attribute__((noinline)) static uint64_t odd(uint64_t n, uint64_t acc) {
    if (n == 0)
        return ~acc;
    __attribute__((musttail)) return even(n - 1, acc ^ (acc >> 17) ^ n);
}

int main(int argc, char **argv) {
    uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    vm m = {CODE, OPS, steps};
    uint64_t r = OPS[CODE[0]](&m, 0, 1, 0);
    printf("vm(%llu) = %llu\n", (unsigned long long)steps, (unsigned long long)r);
    uint64_t e = even(steps, 1);
    printf("even(%llu) = %llu\n", (unsigned long long)steps, (unsigned long long)e);
    return 0;
}
