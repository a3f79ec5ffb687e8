#define _GNU_SOURCE
#include "CShims.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>
#include <stdlib.h>

int nslab_setns(int fd, int nstype) { return setns(fd, nstype); }
int nslab_unshare(int flags) { return unshare(flags); }
int nslab_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
pid_t nslab_gettid(void) { return (pid_t)syscall(SYS_gettid); }

int nslab_is_nsfs(int fd) {
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0) return -1;
    return fs.f_type == NSFS_MAGIC ? 1 : 0;
}

// Child side helpers: async-signal-safe only (no malloc, no stdio).
static void child_fail(int fd, const char *step) {
    int err = errno;
    char buf[160];
    size_t n = 0;
    for (const char *p = step; *p && n < sizeof(buf) - 16; p++) buf[n++] = *p;
    buf[n++] = ':';
    // errno as decimal, written by hand: snprintf is not async-signal-safe.
    char digits[12];
    int d = 0;
    unsigned v = (unsigned)err;
    do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v && d < 11);
    while (d) buf[n++] = digits[--d];
    ssize_t ignored = write(fd, buf, n);
    (void)ignored;
    _exit(127);
}

static size_t str_len(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

static int join_path(char *out, size_t cap, const char *a, const char *b, const char *c) {
    size_t n = 0;
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (!parts[i]) continue;
        size_t l = str_len(parts[i]);
        if (n + l + 1 >= cap) return -1;
        memcpy(out + n, parts[i], l);
        n += l;
    }
    out[n] = 0;
    return 0;
}

// Same steps as iproute2's netns_switch() + bind_etc(), in the child after fork.
static void child_setup(int errfd, int netns_fd, int uts_fd, const char *name) {
    if (setns(netns_fd, CLONE_NEWNET) < 0) child_fail(errfd, "setns(net)");
    if (uts_fd >= 0 && setns(uts_fd, CLONE_NEWUTS) < 0) child_fail(errfd, "setns(uts)");
    if (unshare(CLONE_NEWNS) < 0) child_fail(errfd, "unshare(mount)");
    if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0) child_fail(errfd, "mount / slave");
    unsigned long mountflags = 0;
    if (umount2("/sys", MNT_DETACH) < 0) {
        // /sys may not be mounted at all (minimal containers): carry on, as iproute2 does.
        if (errno != EINVAL && errno != ENOENT) child_fail(errfd, "umount /sys");
    }
    if (mount(name ? name : "none", "/sys", "sysfs", mountflags, NULL) < 0) child_fail(errfd, "mount /sys");
    if (!name) return;
    char dir[PATH_MAX];
    if (join_path(dir, sizeof(dir), "/etc/netns/", name, NULL) < 0) child_fail(errfd, "etc path");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;  // no per-node /etc files: nothing to bind
    // getdents64 directly: opendir() allocates.
    char buf[4096];
    for (;;) {
        long nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (nread < 0) child_fail(errfd, "read /etc/netns");
        if (nread == 0) break;
        for (long off = 0; off < nread;) {
            struct { unsigned long long ino; long long off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + off);
            off += d->reclen;
            if (d->name[0] == '.' && (d->name[1] == 0 || (d->name[1] == '.' && d->name[2] == 0))) continue;
            char src[PATH_MAX], dst[PATH_MAX];
            if (join_path(src, sizeof(src), dir, "/", d->name) < 0) continue;
            if (join_path(dst, sizeof(dst), "/etc/", d->name, NULL) < 0) continue;
            if (mount(src, dst, "none", MS_BIND, NULL) < 0) {
                // iproute2 only warns when the target does not exist; we do the same by skipping.
                if (errno != ENOENT) child_fail(errfd, "bind /etc/netns file");
            }
        }
    }
    close(dfd);
}

pid_t nslab_spawn_in_netns(int netns_fd, int uts_fd, const char *netns_name,
                           char *const argv[], char *const envp[],
                           const int *stdio_fds, int new_session,
                           char *error_out, size_t error_len) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        snprintf(error_out, error_len, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(error_out, error_len, "fork: %s", strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pipefd[0]);
        if (new_session && setsid() < 0) child_fail(pipefd[1], "setsid");
        if (stdio_fds) {
            for (int i = 0; i < 3; i++) {
                if (stdio_fds[i] >= 0 && stdio_fds[i] != i && dup2(stdio_fds[i], i) < 0) child_fail(pipefd[1], "dup2");
            }
        }
        child_setup(pipefd[1], netns_fd, uts_fd, netns_name);
        if (envp) execvpe(argv[0], argv, envp); else execvp(argv[0], argv);
        child_fail(pipefd[1], "exec");
    }
    close(pipefd[1]);
    char buf[200];
    ssize_t n;
    do { n = read(pipefd[0], buf, sizeof(buf) - 1); } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n > 0) {
        buf[n] = 0;
        char *colon = strrchr(buf, ':');
        int err = colon ? atoi(colon + 1) : 0;
        if (colon) *colon = 0;
        snprintf(error_out, error_len, "%s: %s", buf, strerror(err));
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return -1;
    }
    return pid;
}
