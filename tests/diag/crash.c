/* Traps in nested functions, built with -g so the module carries DWARF line
   information (tests/unit/test_trap_diagnostics.py; build.sh rebuilds crash.wasm).
   No libc: the module stays small.  The test finds the lines by their markers. */

static volatile unsigned far = 0x7ffffff0u;

__attribute__((noinline)) static void poke(int *p, int v) {
    *p = v;  /* MARK: store */
}

__attribute__((noinline)) static int deep(int n) {
    if (n == 0) {
        __builtin_trap();  /* MARK: trap */
    }
    return deep(n - 1) + 1;  /* MARK: recurse */
}

__attribute__((export_name("fill"))) int fill(int n) {
    int total = 0;
    for (int i = 0; i < n; i++) {
        total += i;
    }
    poke((int *)far, total);  /* MARK: poke */
    return total;
}

__attribute__((export_name("crash"))) int crash(int n) {
    return deep(n);  /* MARK: deep */
}

void _start(void) {
    crash(3);  /* MARK: start */
}
