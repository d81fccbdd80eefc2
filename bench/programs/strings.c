/* Formatting and string functions of libc: snprintf, strlen, strcmp, memcpy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 5000;
    char buf[128], prev[128] = "";
    unsigned long total = 0, ordered = 0;
    for (int i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, "item-%d:%x:%s", i * 7919 % 10007, i, i % 3 ? "odd" : "even");
        total += (unsigned long)strlen(buf) + (unsigned long)len;
        if (strcmp(prev, buf) < 0) ordered++;
        memcpy(prev, buf, (size_t)len + 1);
    }
    printf("%d strings, %lu chars, %lu ascending pairs\n", n, total, ordered);
    return 0;
}
