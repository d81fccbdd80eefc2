/* cat: copy each file named on the command line to stdout (stdin when none).
   The files must be inside a directory the host mounted, e.g.
       pywazero run --mount examples:/ex examples/cat.wasm /ex/hello.c
   Build: tests/wasi/build.sh (clang --target=wasm32-wasi). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* 0 when done, 1 on a read error, 2 when stdout refuses (say, a closed pipe) */
static int copy(FILE *in) {
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, n, stdout) != n) return 2;
    }
    return ferror(in) ? 1 : 0;
}

int main(int argc, char **argv) {
    int status = 0;
    if (argc < 2) {
        int r = copy(stdin);
        if (r) fprintf(stderr, "cat: %s error\n", r == 2 ? "write" : "read");
        return r ? 1 : 0;
    }
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "cat: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        int r = copy(f);
        fclose(f);
        if (r == 2) {
            fprintf(stderr, "cat: write error: %s\n", strerror(errno));
            return 1;
        }
        if (r) {
            fprintf(stderr, "cat: %s: read error\n", argv[i]);
            status = 1;
        }
    }
    return status;
}
