/* A bytecode virtual machine: a switch-dispatched stack machine (i64 values) running
 * a program that counts the primes below N by trial division and sums them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { HALT, PUSH, LOAD, STORE, ADD, SUB, MUL, MOD, LT, LE, JZ, JNZ, JMP };

/* Registers: 0 n, 1 i, 2 j, 3 count, 4 sum, 5 is_prime.  Assembled from:
 *   i = 2; while i < n: { p = 1; j = 2; while j*j <= i: { if i % j == 0: { p = 0; break }
 *   j += 1 }; if p: { count += 1; sum += i }; i += 1 } */
static const int32_t program[] = {
    1, 2, 3, 1, 2, 1, 2, 0, 8, 10, 78, 1, 1, 3, 5, 1, 2, 3, 2, 2, 2, 2, 2, 6, 2, 1, 9,
    10, 51, 2, 1, 2, 2, 7, 11, 42, 1, 0, 3, 5, 12, 51, 2, 2, 1, 1, 4, 3, 2, 12, 19, 2,
    5, 10, 69, 2, 3, 1, 1, 4, 3, 3, 2, 4, 2, 1, 4, 3, 4, 2, 1, 1, 1, 4, 3, 1, 12, 4, 0,
};

static int64_t run(const int32_t *code, int64_t *regs) {
    int64_t stack[64];
    int sp = 0, pc = 0;
    uint64_t steps = 0;
    for (;;) {
        steps++;
        switch (code[pc++]) {
        case HALT: return (int64_t)steps;
        case PUSH: stack[sp++] = code[pc++]; break;
        case LOAD: stack[sp++] = regs[code[pc++]]; break;
        case STORE: regs[code[pc++]] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case MOD: sp--; stack[sp - 1] %= stack[sp]; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case LE: sp--; stack[sp - 1] = stack[sp - 1] <= stack[sp]; break;
        case JZ: { int32_t t = code[pc++]; if (stack[--sp] == 0) pc = t; break; }
        case JNZ: { int32_t t = code[pc++]; if (stack[--sp] != 0) pc = t; break; }
        case JMP: pc = code[pc]; break;
        default: printf("bad opcode %d at %d\n", code[pc - 1], pc - 1); exit(1);
        }
    }
}

int main(int argc, char **argv) {
    int64_t regs[8] = {0};
    regs[0] = argc > 1 ? atol(argv[1]) : 20000;
    int64_t steps = run(program, regs);
    printf("primes below %lld: %lld, sum %lld, %lld vm steps\n", (long long)regs[0],
           (long long)regs[3], (long long)regs[4], (long long)steps);
    return 0;
}
