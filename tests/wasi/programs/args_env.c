/* args_env: print the arguments after argv[0] and the environment, sorted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]=[%s] (%zu bytes)\n", i, argv[i], strlen(argv[i]));
    int n = 0;
    while (environ[n]) n++;
    char **copy = malloc(sizeof(char *) * (n + 1));
    memcpy(copy, environ, sizeof(char *) * (n + 1));
    qsort(copy, n, sizeof(char *), cmp);
    printf("environ count=%d\n", n);
    for (int i = 0; i < n; i++) printf("env: %s\n", copy[i]);
    const char *g = getenv("GREETING");
    printf("getenv(GREETING)=%s\n", g ? g : "(null)");
    printf("getenv(MISSING)=%s\n", getenv("MISSING") ? "set" : "(null)");
    return 0;
}
