#ifndef NSLAB_CSHIMS_H
#define NSLAB_CSHIMS_H

// Kernel UAPI for rtnetlink and the few libc calls Swift's Glibc module does not expose
// (they sit behind _GNU_SOURCE). Everything here is a thin wrapper: policy lives in Swift.

#include <stdint.h>
#include <sys/types.h>
#include <signal.h>
// setxattr/getxattr: Swift's Glibc module leaves them out.
#include <sys/xattr.h>
// mallopt: how many malloc arenas the process's threads share.
#include <malloc.h>
// glibc first: it tells the UAPI headers (libc-compat.h) not to define in6_addr again.
#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/netconf.h>
#include <linux/net_namespace.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>

#include <linux/veth.h>
#include <linux/neighbour.h>
#include <linux/pkt_sched.h>
#include <linux/pkt_cls.h>
#include <linux/if_bridge.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
// nslab capture: AF_PACKET addresses and classic BPF filters (SO_ATTACH_FILTER).
#include <linux/if_packet.h>
#include <linux/filter.h>

static const int NSLAB_CLONE_NEWNET = 0x40000000;
static const int NSLAB_CLONE_NEWNS = 0x00020000;
static const int NSLAB_CLONE_NEWUTS = 0x04000000;

int nslab_setns(int fd, int nstype);
int nslab_unshare(int flags);
pid_t nslab_gettid(void);
/// pipe2(O_CLOEXEC): both ends close-on-exec from birth, so concurrent spawns never inherit them.
int nslab_pipe_cloexec(int fds[2]);
/// SIGINT, SIGTERM and SIGHUP set a flag instead of ending the process, so a deploy can stop at
/// its next step and remove what it made. nslab_interrupt_signal() is that signal, or 0.
void nslab_catch_interrupts(void);
int nslab_interrupt_signal(void);
// 1 if fd is a namespace file (nsfs), 0 if not, -1 on error.
int nslab_is_nsfs(int fd);
/// pidfd_open(2), close-on-exec: a descriptor that poll(2) reports readable once the process
/// has exited, for processes that are not our children. -1 with errno on error (ESRCH: gone).
int nslab_pidfd_open(pid_t pid);

/// struct mmsghdr (behind _GNU_SOURCE in glibc, so not in Swift's Glibc module), same layout:
/// verify sends and reads its probes many to a system call (sendmmsg, recvmmsg).
struct nslab_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
int nslab_sendmmsg(int fd, struct nslab_mmsghdr *messages, unsigned int count, int flags);
int nslab_recvmmsg(int fd, struct nslab_mmsghdr *messages, unsigned int count, int flags);

/// What nslab_spawn_in_netns runs and how.
struct nslab_spawn_request {
    /// The network namespace to join (an fd of /run/netns/NAME).
    int netns_fd;
    /// The UTS namespace to join as well (the node's host name), or -1.
    int uts_fd;
    /// The namespace's name: /sys is mounted with it as source and /etc/netns/<name>/* are bound
    /// over /etc/*, as `ip netns exec` does. NULL for neither.
    const char *netns_name;
    /// The program to execve: already resolved through PATH by the caller.
    const char *path;
    char *const *argv;
    char *const *envp;
    /// Three fds that become stdin, stdout and stderr, -1 (or the pointer NULL) to inherit.
    const int *stdio_fds;
    /// Non-zero: setsid() in the child (a background process, no controlling terminal).
    int new_session;
    /// Non-zero: every fd above 2 is closed on exec (background processes).
    int close_other_fds;
    /// Signals set back to SIG_DFL in the child before exec (NULL: none). The mask is always cleared.
    const sigset_t *default_signals;
    /// When not NULL, receives the errno of a failed step.
    int *error_number;
    /// Directories bound over others in the child's mount namespace after the /etc/netns
    /// binds (a node's FRR directories over FRR's own paths); a bind that fails fails the spawn.
    const char *const *bind_sources;
    const char *const *bind_targets;
    int bind_count;
};

// Runs a program inside a network namespace the way `ip netns exec` does: fork; in the child
// join the namespace (and the UTS namespace if given), unshare the mount namespace, make /
// a slave, remount /sys for the new netns, bind /etc/netns/<name>/* over /etc/*, then execve.
// Only async-signal-safe calls happen in the child. A failure before exec is written to a
// close-on-exec pipe as "step:errno" so the parent can report it; a successful exec closes the
// pipe empty. Returns the child's pid, or -1 with `error_out` (size `error_len`) filled.
pid_t nslab_spawn_in_netns(const struct nslab_spawn_request *request, char *error_out, size_t error_len);

#endif
