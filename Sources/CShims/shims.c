#define _GNU_SOURCE
#include "CShims.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/vfs.h>
#include <sys/statvfs.h>
#include <signal.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <unistd.h>
#include <stdlib.h>

int nslab_setns(int fd, int nstype) { return setns(fd, nstype); }
int nslab_unshare(int flags) { return unshare(flags); }
int nslab_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
// pidfds are close-on-exec always; called by number: glibc 2.36's wrapper is not everywhere yet.
int nslab_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

_Static_assert(sizeof(struct nslab_mmsghdr) == sizeof(struct mmsghdr), "nslab_mmsghdr is struct mmsghdr");
int nslab_sendmmsg(int fd, struct nslab_mmsghdr *messages, unsigned int count, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}
int nslab_recvmmsg(int fd, struct nslab_mmsghdr *messages, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

static volatile sig_atomic_t nslab_caught_signal = 0;

static void nslab_note_signal(int signal) {
    if (nslab_caught_signal == 0) nslab_caught_signal = signal;
}

void nslab_catch_interrupts(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = nslab_note_signal;
    sigfillset(&action.sa_mask);
    // Restart system calls: netlink replies and file writes in flight should just complete.
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    // A parent may have started us with these blocked (a thread of a test runner, say): then
    // they would stay pending and the deploy could not be stopped.
    sigset_t interrupts;
    sigemptyset(&interrupts);
    sigaddset(&interrupts, SIGINT);
    sigaddset(&interrupts, SIGTERM);
    sigaddset(&interrupts, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &interrupts, NULL);
}

int nslab_interrupt_signal(void) { return nslab_caught_signal; }
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

static void child_warn(const char *a, const char *b, const char *c) {
    // Best effort, like iproute2's fprintf(stderr, "Bind ... failed"): stderr may be closed.
    const char *parts[4] = {"nslab: ", a, b, c};
    for (int i = 0; i < 4; i++) {
        if (!parts[i]) continue;
        ssize_t ignored = write(2, parts[i], str_len(parts[i]));
        (void)ignored;
    }
    ssize_t ignored = write(2, "\n", 1);
    (void)ignored;
}

// The steps of iproute2's netns_switch() + bind_etc() (lib/namespace.c), in the child after fork.
static void child_setup(int errfd, int netns_fd, int uts_fd, const char *name) {
    if (setns(netns_fd, CLONE_NEWNET) < 0) child_fail(errfd, "setns(net)");
    if (uts_fd >= 0 && setns(uts_fd, CLONE_NEWUTS) < 0) child_fail(errfd, "setns(uts)");
    if (unshare(CLONE_NEWNS) < 0) child_fail(errfd, "unshare(mount)");
    // Don't let any mount made below propagate back to the host's mount namespace.
    if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0) child_fail(errfd, "mount --make-rslave /");
    // A /sys that describes the node's network namespace (ls /sys/class/net shows its
    // interfaces only). As iproute2: a /sys that cannot be unmounted is overlaid, read-only if
    // it was read-only (a read-only sysfs cannot be shadowed by a read-write one).
    unsigned long mountflags = 0;
    if (umount2("/sys", MNT_DETACH) < 0) {
        struct statfs fs;
        if (statfs("/sys", &fs) == 0 && (fs.f_flags & ST_RDONLY)) mountflags = MS_RDONLY;
    }
    if (mount(name ? name : "none", "/sys", "sysfs", mountflags, NULL) < 0) child_fail(errfd, "mount /sys");
    if (!name || str_len(name) >= NAME_MAX) return;
    char dir[PATH_MAX];
    if (join_path(dir, sizeof(dir), "/etc/netns/", name, NULL) < 0) return;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;  // no per-node /etc files: nothing to bind
    // getdents64 directly: opendir() allocates, which a child of a threaded process must not.
    char buf[4096];
    for (;;) {
        long nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (nread <= 0) break;
        for (long off = 0; off < nread;) {
            struct linux_dirent64 { unsigned long long ino; long long off; unsigned short reclen; unsigned char type; char name[]; };
            struct linux_dirent64 *d = (void *)(buf + off);
            off += d->reclen;
            if (d->name[0] == '.' && (d->name[1] == 0 || (d->name[1] == '.' && d->name[2] == 0))) continue;
            char src[PATH_MAX], dst[PATH_MAX];
            if (join_path(src, sizeof(src), dir, "/", d->name) < 0) continue;
            if (join_path(dst, sizeof(dst), "/etc/", d->name, NULL) < 0) continue;
            // iproute2 warns and carries on (typically /etc/NAME does not exist): so do we.
            if (mount(src, dst, "none", MS_BIND, NULL) < 0) child_warn("cannot bind ", src, " over its /etc file");
        }
    }
    close(dfd);
}

// fd itself, or a close-on-exec copy of it above 2 when it is 0, 1 or 2 (-1 stays -1).
static int fd_above_stdio(int fd) {
    if (fd < 0 || fd > 2) return fd;
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

// Moves the caller's stdio fds into place without one dup2 clobbering the source of another
// (a source may itself be 0, 1 or 2): first copy every source above 2, then dup2 into place.
// dup2 onto a different fd also clears close-on-exec, which dup2(fd, fd) would not.
static void child_stdio(int errfd, const int *stdio_fds) {
    int copies[3];
    for (int i = 0; i < 3; i++) {
        copies[i] = -1;
        if (stdio_fds[i] >= 0 && (copies[i] = fcntl(stdio_fds[i], F_DUPFD_CLOEXEC, 3)) < 0) child_fail(errfd, "dup stdio");
    }
    for (int i = 0; i < 3; i++) {
        if (copies[i] >= 0 && dup2(copies[i], i) < 0) child_fail(errfd, "dup2 stdio");
    }
}

pid_t nslab_spawn_in_netns(const struct nslab_spawn_request *request, char *error_out, size_t error_len) {
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
        // When the caller runs with stdin/stdout/stderr closed, the error pipe and the namespace
        // fds may themselves be 0, 1 or 2: move them up before stdio is put in place over them.
        int errfd = fd_above_stdio(pipefd[1]);
        int netns_fd = fd_above_stdio(request->netns_fd);
        int uts_fd = fd_above_stdio(request->uts_fd);
        if (errfd < 0 || netns_fd < 0) _exit(127);
        // Dispositions the parent set for itself (it ignores SIGINT/SIGQUIT while it waits) must
        // not reach the command: SIG_IGN survives exec. The mask is inherited too: clear it.
        if (request->default_signals) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof(dfl));
            dfl.sa_handler = SIG_DFL;
            for (int sig = 1; sig < NSIG; sig++) {
                if (sigismember(request->default_signals, sig) == 1) sigaction(sig, &dfl, NULL);
            }
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (request->new_session && setsid() < 0) child_fail(errfd, "setsid");
        if (request->stdio_fds) child_stdio(errfd, request->stdio_fds);
        // A background process must not hold nslab's other fds (a lab lock, a log of another
        // node): mark everything above stderr close-on-exec. Errors are harmless (old kernel).
        if (request->close_other_fds) syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
        child_setup(errfd, netns_fd, uts_fd, request->netns_name);
        for (int i = 0; i < request->bind_count; i++) {
            if (mount(request->bind_sources[i], request->bind_targets[i], "none", MS_BIND, NULL) < 0) child_fail(errfd, "bind mount");
        }
        execve(request->path, request->argv, request->envp);
        child_fail(errfd, "exec");
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
        if (request->error_number) *request->error_number = err;
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return -1;
    }
    return pid;
}
