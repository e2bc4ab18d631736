/* What a program inherits from whoever started it, printed one fact a line: its /proc/self/status
   signal and privilege lines, its open fds (0-2 by kind), rlimits, umask, cwd and environment.
   tests/test_step_fidelity.py runs it bare and under `tuiexplore step` and compares. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const char *kind(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return "closed";
    if (S_ISCHR(st.st_mode)) return "chr";
    if (S_ISREG(st.st_mode)) return "file";
    if (S_ISFIFO(st.st_mode)) return "fifo";
    if (S_ISSOCK(st.st_mode)) return "socket";
    return "other";
}

int main(void) {
    char line[512];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Sig", 3) || !strncmp(line, "ShdPnd", 6) || !strncmp(line, "NoNewPrivs", 10) ||
            !strncmp(line, "Seccomp:", 8) || !strncmp(line, "Cap", 3)) {
            char *tab = strchr(line, '\t');
            if (tab) *tab = ' ';  /* a tab would come back escaped from the Output events */
            printf("status %s", line);
        }
    if (f) fclose(f);
    DIR *d = opendir("/proc/self/fd");
    int self = d ? dirfd(d) : -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == self) continue;
        char target[256] = "";
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 0) target[n] = 0;
        if (fd <= 2) printf("fd %d %s\n", fd, kind(fd));
        else printf("fd %d %s %s\n", fd, kind(fd), target);
    }
    if (d) closedir(d);
    for (int r = 0; r < RLIM_NLIMITS; r++) {
        struct rlimit rl;
        getrlimit(r, &rl);
        printf("rlimit %d %llu %llu\n", r, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    }
    mode_t m = umask(0);
    printf("umask %03o\n", m);
    char cwd[4096];
    printf("cwd %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    for (char **v = environ; *v; v++) printf("env %s\n", *v);
    return 0;
}
