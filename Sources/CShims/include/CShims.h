#ifndef NSLAB_CSHIMS_H
#define NSLAB_CSHIMS_H

// Kernel UAPI for rtnetlink and the few libc calls Swift's Glibc module does not expose
// (they sit behind _GNU_SOURCE). Everything here is a thin wrapper: policy lives in Swift.

#include <stdint.h>
#include <sys/types.h>
// glibc first: it tells the UAPI headers (libc-compat.h) not to define in6_addr again.
#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>

#include <linux/veth.h>
#include <linux/neighbour.h>
#include <linux/pkt_sched.h>
#include <linux/pkt_cls.h>
#include <linux/if_bridge.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>

static const int NSLAB_CLONE_NEWNET = 0x40000000;
static const int NSLAB_CLONE_NEWNS = 0x00020000;
static const int NSLAB_CLONE_NEWUTS = 0x04000000;

int nslab_setns(int fd, int nstype);
int nslab_unshare(int flags);
pid_t nslab_gettid(void);
/// pipe2(O_CLOEXEC): both ends close-on-exec from birth, so concurrent spawns never inherit them.
int nslab_pipe_cloexec(int fds[2]);
// 1 if fd is a namespace file (nsfs), 0 if not, -1 on error.
int nslab_is_nsfs(int fd);

// Runs `argv` inside the network namespace `netns_fd` the way `ip netns exec` does:
// fork; in the child join the namespace (and the UTS namespace `uts_fd` if >= 0), unshare the
// mount namespace, make / a slave, remount /sys for the new netns, bind /etc/netns/<name>/* over
// /etc/*, optionally setsid + dup fds, then execvp. Any failure before exec is written to a
// close-on-exec pipe as "step: errno" so the parent can report it; success closes the pipe empty.
// Returns the child's pid, or -1 with `error_out` (size `error_len`) filled.
// `netns_name` may be NULL (no /etc/netns binding). `stdio_fds` may be NULL (inherit) or point to
// three fds for stdin/stdout/stderr. `new_session` != 0 calls setsid() in the child.
pid_t nslab_spawn_in_netns(int netns_fd, int uts_fd, const char *netns_name,
                           char *const argv[], char *const envp[],
                           const int *stdio_fds, int new_session,
                           char *error_out, size_t error_len);

#endif
