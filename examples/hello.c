/* hello: a WASI "hello world".  Greets its first argument, if any.
   Build: tests/wasi/build.sh (clang --target=wasm32-wasi). */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("Hello, %s! (from WebAssembly)\n", argc > 1 ? argv[1] : "world");
    return 0;
}
