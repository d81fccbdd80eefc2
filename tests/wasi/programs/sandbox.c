/* sandbox: every attempt to leave the mounted directory must be refused.
   argv[1] is the work directory (a mount); argv[2], if given, a read-only mount. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static int escapes = 0;

static void refused(const char *what, int r) {
    int e = errno;
    printf("%s: %s\n", what, r < 0 ? "refused" : "ESCAPED");
    if (r >= 0) escapes++;
    else fprintf(stderr, "%s: errno %d (%s)\n", what, e, strerror(e));
}

static int try_open(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) close(fd);
    return fd;
}

/* path_open relative to the first preopen (fd 3) */
static int raw_open(const char *path, __wasi_fd_t *out) {
    __wasi_errno_t e = __wasi_path_open(3, 0, path, 0, __WASI_RIGHTS_FD_READ, 0, 0, out);
    if (e == 0) { __wasi_fd_close(*out); return 0; }
    errno = e;
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) { printf("cannot chdir to the work directory\n"); return 2; }
    struct stat st;
    refused("open ../secret.txt", try_open("../secret.txt"));
    refused("open sub/../../secret.txt", (mkdir("sub", 0755), try_open("sub/../../secret.txt")));
    refused("stat ../secret.txt", stat("../secret.txt", &st));
    refused("open /etc/passwd", try_open("/etc/passwd"));
    /* straight to the runtime, bypassing wasi-libc's path handling */
    __wasi_fd_t out;
    refused("path_open absolute path", raw_open("/etc/passwd", &out));
    refused("path_open ..", raw_open("..", &out));
    refused("path_open ../secret.txt", raw_open("../secret.txt", &out));
    refused("path_open a/../../secret.txt", raw_open("sub/../../secret.txt", &out));
    printf("path_open sub/../mine.txt stays inside: %s\n",
           (close(open("mine.txt", O_WRONLY | O_CREAT, 0644)), raw_open("sub/../mine.txt", &out)) == 0 ? "allowed" : "FAIL");
    refused("create ../created.txt", open("../created.txt", O_WRONLY | O_CREAT, 0644));
    refused("mkdir ../newdir", mkdir("../newdir", 0755));
    refused("rename into ..", (open("mine.txt", O_WRONLY | O_CREAT, 0644) >= 0) ? rename("mine.txt", "../stolen.txt") : 0);
    refused("link into ..", link("mine.txt", "../linked.txt"));
    refused("unlink ../secret.txt", unlink("../secret.txt"));
    /* symlinks the guest creates */
    symlink("../secret.txt", "up-link");
    refused("open via relative symlink out", try_open("up-link"));
    symlink("/etc/passwd", "abs-link");
    refused("open via absolute symlink", try_open("abs-link"));
    mkdir("deep", 0755);
    symlink("../../secret.txt", "deep/up2");
    refused("open via nested symlink out", try_open("deep/up2"));
    symlink("..", "parent-link");
    refused("open parent-link/secret.txt", try_open("parent-link/secret.txt"));
    refused("create through parent-link", open("parent-link/made.txt", O_WRONLY | O_CREAT, 0644));
    /* a symlink pointing outside that already existed on disk */
    refused("open pre-existing outside symlink", try_open("outside-link"));
    refused("open through pre-existing dir symlink", try_open("outside-dir-link/secret.txt"));
    /* read-only mount */
    if (argc > 2) {
        char p[256];
        snprintf(p, sizeof p, "%s/new.txt", argv[2]);
        refused("create in read-only mount", open(p, O_WRONLY | O_CREAT, 0644));
        snprintf(p, sizeof p, "%s/ro.txt", argv[2]);
        refused("open read-only file for writing", open(p, O_WRONLY));
        refused("unlink in read-only mount", unlink(p));
        snprintf(p, sizeof p, "%s/newdir", argv[2]);
        refused("mkdir in read-only mount", mkdir(p, 0755));
        char q[256];
        snprintf(p, sizeof p, "%s/ro.txt", argv[2]);
        snprintf(q, sizeof q, "%s/renamed.txt", argv[2]);
        refused("rename in read-only mount", rename(p, q));
        refused("link in read-only mount", link(p, q));
        refused("symlink in read-only mount", symlink("ro.txt", q));
        refused("truncate in read-only mount", truncate(p, 0));
        struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
        refused("utimensat in read-only mount", utimensat(AT_FDCWD, p, times, 0));
        refused("open O_TRUNC in read-only mount", open(p, O_RDONLY | O_TRUNC));
        refused("copy out of the sandbox into read-only mount", rename("mine.txt", q));
        int fd = open(p, O_RDONLY);
        char buf[64] = {0};
        int n = fd >= 0 ? (int)read(fd, buf, sizeof buf - 1) : -1;
        printf("read in read-only mount: %s", n > 0 ? buf : "FAILED\n");
        if (fd >= 0) close(fd);
    }
    printf("escapes: %d\n", escapes);
    return escapes ? 1 : 0;
}
