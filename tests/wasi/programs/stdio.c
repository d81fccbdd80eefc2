/* stdio: read all of stdin, report its size, echo it upper-cased to stdout,
   write a line to stderr. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    char buf[4096];
    size_t total = 0, n;
    unsigned long sum = 0;
    printf("stdout line 1\n");
    fflush(stdout);
    fprintf(stderr, "stderr line\n");
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        for (size_t i = 0; i < n; i++) {
            sum = sum * 31 + (unsigned char)buf[i];
            buf[i] = (char)toupper((unsigned char)buf[i]);
        }
        if (total < 64) fwrite(buf, 1, n < 64 - total ? n : 64 - total, stdout);
        total += n;
    }
    printf("\nstdin bytes: %zu checksum: %lu\n", total, sum % 1000003);
    printf("isatty(1)=%d\n", isatty(1) ? 1 : 0);
    /* a raw write(2) bypassing stdio */
    const char msg[] = "raw write\n";
    if (write(1, msg, strlen(msg)) != (ssize_t)strlen(msg)) return 9;
    return 0;
}
