/* escape_rename: a directory descriptor stays bound to the directory it was opened
   on (issue 9, review item 1).  argv[1] is the work directory (a writable mount).

   For each planted target (".." and "../../..", both out of the mount) the program
   creates a directory, opens it (descriptor D), renames it, plants a symlink to the
   target under the old name, and then works through D: stat, open, list, read
   links, set times, create.  Everything must act on the renamed (empty) directory:
   ENOENT for the host's names, and what D creates lands in the renamed directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *result(int r) { return r < 0 ? strerror(errno) : "ok"; }

static void list(int d) {
    int l = openat(d, ".", O_RDONLY | O_DIRECTORY);
    DIR *dir = l < 0 ? NULL : fdopendir(l);
    if (!dir) { printf("  list: %s\n", strerror(errno)); return; }
    int others = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            printf("  list: sees %s\n", e->d_name);
            others++;
        }
    printf("  list: %d entries besides . and ..\n", others);
    closedir(dir);
}

static void attack(const char *name, const char *moved, const char *target) {
    struct stat st, st2;
    char buf[256];
    printf("plant %s -> %s\n", name, target);
    printf("  mkdir: %s\n", result(mkdir(name, 0755)));
    int d = open(name, O_RDONLY | O_DIRECTORY);
    printf("  open: %s\n", result(d));
    printf("  rename: %s\n", result(rename(name, moved)));
    printf("  symlink: %s\n", result(symlink(target, name)));
    printf("  stat secret.txt via D: %s\n", result(fstatat(d, "secret.txt", &st, 0)));
    printf("  stat etc/passwd via D: %s\n", result(fstatat(d, "etc/passwd", &st, 0)));
    int f = openat(d, "secret.txt", O_RDONLY);
    printf("  open secret.txt via D: %s\n", result(f));
    if (f >= 0) close(f);
    int o = openat(d, "outside-dir", O_RDONLY | O_DIRECTORY);
    printf("  open outside-dir via D: %s\n", result(o));
    if (o >= 0) close(o);
    ssize_t n = readlinkat(d, "host-link", buf, sizeof buf);
    printf("  readlink host-link via D: %s\n", result((int)n));
    struct timespec times[2] = {{1, 0}, {1, 0}};
    printf("  set times of secret.txt via D: %s\n",
           result(utimensat(d, "secret.txt", times, AT_SYMLINK_NOFOLLOW)));
    printf("  set times of outside-dir via D: %s\n", result(utimensat(d, "outside-dir", times, 0)));
    list(d);
    printf("  mkdir made-via-D: %s\n", result(mkdirat(d, "made-via-D", 0755)));
    int same = fstat(d, &st) == 0 && stat(moved, &st2) == 0 && st.st_ino == st2.st_ino;
    printf("  D is %s\n", same ? "the renamed directory" : "ELSEWHERE");
    char via[64];
    snprintf(via, sizeof via, "%s/secret.txt", name);
    printf("  stat %s (through the plant): %s\n", via, result(stat(via, &st)));
    close(d);
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) { printf("cannot chdir to the work directory\n"); return 2; }
    attack("victim1", "moved1", "..");
    attack("victim2", "moved2", "../../..");
    return 0;
}
