/* exit: exit with the code given as argv[1]; "return N" returns it from main
   instead; "atexit" runs a handler first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void handler(void) { printf("atexit handler ran\n"); }

int main(int argc, char **argv) {
    if (argc < 2) { printf("usage: exit CODE | return CODE | atexit CODE\n"); return 2; }
    if (strcmp(argv[1], "return") == 0 && argc > 2) {
        printf("returning %s\n", argv[2]);
        return atoi(argv[2]);
    }
    if (strcmp(argv[1], "atexit") == 0 && argc > 2) {
        atexit(handler);
        printf("exiting %s after atexit\n", argv[2]);
        exit(atoi(argv[2]));
    }
    printf("exiting %s\n", argv[1]);
    fflush(stdout);
    _Exit(atoi(argv[1]));
}
