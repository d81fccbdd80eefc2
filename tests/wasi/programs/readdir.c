/* readdir: a directory with many entries is listed completely and exactly once,
   across several fd_readdir calls, with rewinddir and seekdir/telldir. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N 500

static int list(DIR *d, int *seen, int *dots) {
    struct dirent *e;
    int count = 0;
    *dots = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) { (*dots)++; continue; }
        int i;
        if (sscanf(e->d_name, "file-with-a-long-name-%d.txt", &i) == 1 && i >= 0 && i < N) {
            seen[i]++;
            if (e->d_type != DT_REG) return -1;
        } else if (strcmp(e->d_name, "subdir") == 0) {
            if (e->d_type != DT_DIR) return -1;
        }
        count++;
    }
    return count;
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) { printf("cannot chdir to the work directory\n"); return 2; }
    mkdir("big", 0755);
    char name[128];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "big/file-with-a-long-name-%d.txt", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) { printf("create %s failed\n", name); return 1; }
        dprintf(fd, "%d\n", i);
        close(fd);
    }
    mkdir("big/subdir", 0755);
    int seen[N];
    memset(seen, 0, sizeof seen);
    DIR *d = opendir("big");
    int dots;
    int count = list(d, seen, &dots);
    int once = 1;
    for (int i = 0; i < N; i++) if (seen[i] != 1) once = 0;
    printf("entries: %d, dot entries: %d, each file exactly once: %d\n", count, dots, once);

    rewinddir(d);
    memset(seen, 0, sizeof seen);
    count = list(d, seen, &dots);
    printf("after rewinddir: %d\n", count);

    rewinddir(d);
    for (int i = 0; i < 100; i++) readdir(d);
    long pos = telldir(d);
    struct dirent *e = readdir(d);
    char first[256];
    strcpy(first, e->d_name);
    for (int i = 0; i < 50; i++) readdir(d);
    seekdir(d, pos);
    e = readdir(d);
    printf("seekdir returns to the same entry: %d\n", e && strcmp(e->d_name, first) == 0);
    closedir(d);

    for (int i = 0; i < N; i += 2) {
        snprintf(name, sizeof name, "big/file-with-a-long-name-%d.txt", i);
        unlink(name);
    }
    d = opendir("big");
    memset(seen, 0, sizeof seen);
    count = list(d, seen, &dots);
    closedir(d);
    printf("after deleting half: %d\n", count);
    return 0;
}
