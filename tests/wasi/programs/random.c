/* random: random_get fills buffers with varying bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    unsigned char a[256], b[256];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    int r1 = getentropy(a, sizeof a);
    int r2 = getentropy(b, sizeof b);
    printf("getentropy=%d,%d\n", r1, r2);
    printf("buffers differ: %d\n", memcmp(a, b, sizeof a) != 0);
    int seen[256] = {0}, distinct = 0;
    for (size_t i = 0; i < sizeof a; i++) if (!seen[a[i]]++) distinct++;
    printf("many distinct bytes: %d\n", distinct > 64);
    static unsigned char big[100000];
    arc4random_buf(big, sizeof big);
    long ones = 0;
    for (size_t i = 0; i < sizeof big; i++) ones += __builtin_popcount(big[i]);
    printf("bit balance ok: %d\n", ones > 390000 && ones < 410000);
    uint32_t u = arc4random_uniform(10);
    printf("uniform in range: %d\n", u < 10);
    return 0;
}
