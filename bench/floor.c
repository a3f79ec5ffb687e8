// The floor: the benchmark's star lab built with raw rtnetlink from C, the way a careful C
// program would, to show how close nslab comes to what the kernel itself costs.
//
//   floor deploy PREFIX N    hub + N leaves, as scripts/bench.py's other methods build them
//   floor destroy PREFIX N   unmount and remove the namespaces (the kernel frees them after)
//
// One thread, one request at a time, each acknowledged before the next (NLM_F_ACK). Namespaces
// are named and mounted as `ip netns add` does, veths are created with both ends in place, and
// interface indexes are chosen at creation, so nothing is looked up or moved.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

struct request {
    struct nlmsghdr header;
    char body[1024];
};

static unsigned sequence;

static void *tail(struct request *r) { return (char *)r + NLMSG_ALIGN(r->header.nlmsg_len); }

static struct rtattr *put(struct request *r, unsigned short type, const void *data, size_t length) {
    struct rtattr *a = tail(r);
    a->rta_type = type;
    a->rta_len = RTA_LENGTH(length);
    if (length) memcpy(RTA_DATA(a), data, length);
    r->header.nlmsg_len = NLMSG_ALIGN(r->header.nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

static void end(struct request *r, struct rtattr *nest) { nest->rta_len = (char *)tail(r) - (char *)nest; }

static void start(struct request *r, unsigned short type, unsigned short flags, size_t header) {
    memset(r, 0, sizeof *r);
    r->header.nlmsg_len = NLMSG_LENGTH(header);
    r->header.nlmsg_type = type;
    r->header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    r->header.nlmsg_seq = ++sequence;
}

static void talk(int sock, struct request *r, const char *what) {
    if (send(sock, r, r->header.nlmsg_len, 0) < 0) die(what);
    char reply[4096];
    ssize_t n = recv(sock, reply, sizeof reply, 0);
    if (n < 0) die(what);
    struct nlmsghdr *h = (struct nlmsghdr *)reply;
    if (h->nlmsg_type == NLMSG_ERROR) {
        int error = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        if (error) { errno = -error; die(what); }
    }
}

static int netlink_socket(void) {
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) die("socket");
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    if (bind(s, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
    return s;
}

static void link_up(int sock, int index) {
    struct request r;
    start(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
    struct ifinfomsg *info = NLMSG_DATA(&r.header);
    info->ifi_index = index;
    info->ifi_flags = IFF_UP;
    info->ifi_change = IFF_UP;
    talk(sock, &r, "link up");
}

static void address(int sock, int index, unsigned ipv4) {
    struct request r;
    start(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifaddrmsg));
    struct ifaddrmsg *a = NLMSG_DATA(&r.header);
    a->ifa_family = AF_INET;
    a->ifa_prefixlen = 30;
    a->ifa_index = index;
    unsigned be = htonl(ipv4);
    put(&r, IFA_LOCAL, &be, 4);
    put(&r, IFA_ADDRESS, &be, 4);
    talk(sock, &r, "address");
}

static void default_route(int sock, unsigned gateway) {
    struct request r;
    start(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct rtmsg));
    struct rtmsg *m = NLMSG_DATA(&r.header);
    m->rtm_family = AF_INET;
    m->rtm_table = RT_TABLE_MAIN;
    m->rtm_protocol = RTPROT_STATIC;
    m->rtm_scope = RT_SCOPE_UNIVERSE;
    m->rtm_type = RTN_UNICAST;
    unsigned be = htonl(gateway);
    put(&r, RTA_GATEWAY, &be, 4);
    talk(sock, &r, "route");
}

static void veth(int sock, const char *name, int index, int ns, const char *peer, int peer_index, int peer_ns) {
    struct request r;
    start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
    ((struct ifinfomsg *)NLMSG_DATA(&r.header))->ifi_index = index;
    put(&r, IFLA_IFNAME, name, strlen(name) + 1);
    put(&r, IFLA_NET_NS_FD, &ns, 4);
    struct rtattr *linkinfo = put(&r, IFLA_LINKINFO, NULL, 0);
    put(&r, IFLA_INFO_KIND, "veth", 5);
    struct rtattr *data = put(&r, IFLA_INFO_DATA, NULL, 0);
    struct rtattr *peer_attr = put(&r, VETH_INFO_PEER, NULL, 0);
    struct ifinfomsg peer_info = {.ifi_index = peer_index};
    memcpy(tail(&r), &peer_info, sizeof peer_info);
    r.header.nlmsg_len = NLMSG_ALIGN(r.header.nlmsg_len) + NLMSG_ALIGN(sizeof peer_info);
    put(&r, IFLA_IFNAME, peer, strlen(peer) + 1);
    put(&r, IFLA_NET_NS_FD, &peer_ns, 4);
    end(&r, peer_attr);
    end(&r, data);
    end(&r, linkinfo);
    talk(sock, &r, "veth");
}

struct node { int fd, sock; };

// `ip netns add`: a file under /run/netns with the new namespace bind-mounted on it. Returns with
// the thread back in the host's namespace; the node's socket stays in its own.
static struct node add_namespace(const char *name, int host) {
    char path[300];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int placeholder = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (placeholder < 0) die(path);
    close(placeholder);
    if (unshare(CLONE_NEWNET) < 0) die("unshare");
    if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0) die("mount");
    struct node n = {.fd = open(path, O_RDONLY | O_CLOEXEC), .sock = netlink_socket()};
    if (n.fd < 0) die("open namespace");
    link_up(n.sock, 1);
    if (setns(host, CLONE_NEWNET) < 0) die("setns");
    return n;
}

static unsigned leaf_address(int i) { return (10u << 24) + 4 * (i - 1) + 2; }
static unsigned hub_address(int i) { return (10u << 24) + 4 * (i - 1) + 1; }

static void deploy(const char *prefix, int leaves) {
    mkdir("/run/netns", 0755);
    int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (host < 0) die("open host namespace");
    int control = netlink_socket();
    char name[256], peer[256];
    snprintf(name, sizeof name, "%shub", prefix);
    struct node hub = add_namespace(name, host);
    if (setns(hub.fd, CLONE_NEWNET) < 0) die("setns hub");
    int forward = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
    if (forward < 0 || write(forward, "1", 1) != 1) die("ip_forward");
    close(forward);
    if (setns(host, CLONE_NEWNET) < 0) die("setns host");
    for (int i = 1; i <= leaves; i++) {
        snprintf(name, sizeof name, "%sleaf%d", prefix, i);
        struct node leaf = add_namespace(name, host);
        // Different indexes on the two ends: equal ones delay the carrier event (linkwatch).
        int hub_index = 1 + i, leaf_index = 1 + leaves + i;
        snprintf(name, sizeof name, "%sh%d", prefix, i);
        snprintf(peer, sizeof peer, "%sl%d", prefix, i);
        veth(control, name, hub_index, hub.fd, peer, leaf_index, leaf.fd);
        address(hub.sock, hub_index, hub_address(i));
        address(leaf.sock, leaf_index, leaf_address(i));
        link_up(hub.sock, hub_index);
        link_up(leaf.sock, leaf_index);
        default_route(leaf.sock, hub_address(i));
        close(leaf.sock);
        close(leaf.fd);
    }
}

static void delete_namespace(const char *name) {
    char path[300];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    if (umount2(path, MNT_DETACH) < 0) die(path);
    if (unlink(path) < 0) die(path);
}

static void destroy(const char *prefix, int leaves) {
    char name[256];
    snprintf(name, sizeof name, "%shub", prefix);
    delete_namespace(name);
    for (int i = 1; i <= leaves; i++) {
        snprintf(name, sizeof name, "%sleaf%d", prefix, i);
        delete_namespace(name);
    }
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "deploy") && strcmp(argv[1], "destroy"))) {
        fprintf(stderr, "usage: floor deploy|destroy PREFIX N\n");
        return 2;
    }
    int leaves = atoi(argv[3]);
    if (strcmp(argv[1], "deploy") == 0) deploy(argv[2], leaves);
    else destroy(argv[2], leaves);
    return 0;
}
