/// The keys of a containerlab topology file (containerlab's own schema), and what nslab does
/// with each: maps it, leaves it aside with one note, or refuses it with the reason.
enum ContainerlabKeys {
    static let topLevel = ["name", "prefix", "mgmt", "topology", "settings", "debug"]
    static let topology = ["nodes", "links", "kinds", "defaults", "groups"]
    /// Every key a node, group, kind or defaults mapping may have in containerlab.
    static let node = ["kind", "group", "image", "image-pull-policy", "restart-policy", "license", "type", "startup-config",
                       "startup-delay", "enforce-startup-config", "suppress-startup-config", "auto-remove", "exec", "binds",
                       "volumes", "ports", "env", "credentials", "env-files", "user", "hostname", "entrypoint", "cmd", "labels",
                       "runtime", "mgmt-ipv4", "mgmt-ipv6", "network-mode", "link-apply-mode", "cpu", "memory", "cpu-set",
                       "extras", "config", "stages", "dns", "certificate", "healthcheck", "components", "aliases", "shm-size",
                       "cap-add", "privileged", "cgroupns-mode", "cgroup-parent", "pid-mode", "tmpfs", "security-opts",
                       "sysctls", "devices"]
    /// The brief form of a link, and the extended one (`type: veth`).
    static let briefLink = ["endpoints", "mtu", "ipv4", "ipv6", "vars"]
    static let extendedLink = ["type", "endpoints", "endpoint", "mtu", "ipv4", "ipv6", "vars", "labels", "host-interface",
                               "mode", "remote", "vni", "dst-port", "src-port"]
    static let endpoint = ["node", "interface", "mac", "ipv4", "ipv6", "vars"]

    /// The node kinds nslab runs: Linux processes, not vendor images.
    static let kinds = ["linux", "bridge"]

    /// Left aside, said once: they change nothing a lab of namespaces has.
    static let ignored: [String: String] = [
        "image": "ignored: nslab runs the host's own programs, not a container image",
        "image-pull-policy": "ignored: nslab runs the host's own programs, not a container image",
        "mgmt": "ignored: an nslab lab has no management network (nothing in it reaches the host or beyond)",
        "mgmt-ipv4": "ignored: an nslab lab has no management network (nothing in it reaches the host or beyond)",
        "mgmt-ipv6": "ignored: an nslab lab has no management network (nothing in it reaches the host or beyond)",
        "labels": "ignored: labels annotate nodes and links for containerlab's own tools",
        "vars": "ignored: variables feed containerlab's configuration templates",
    ]

    /// Why a key nslab does not map is refused, and what to do instead.
    static func refusal(_ key: String) -> (message: String, hint: String) {
        switch key {
        case "cmd", "entrypoint":
            return ("'\(key)' is a container's main program; an nslab node is a namespace running the host's programs",
                    "move the program to 'exec': each exec line runs in the node once its links are up")
        case "startup-config", "enforce-startup-config", "suppress-startup-config", "config":
            return ("'\(key)' configures a network operating system; a linux node is configured by its 'exec' lines",
                    "write the configuration as exec lines (ip addr add …, ip route add …)")
        case "type", "license":
            return ("'\(key)' belongs to a vendor's network system (its model or its licence); a linux node has none",
                    "remove it; nslab runs linux and bridge nodes")
        case "hostname":
            return ("'hostname' is not supported: nslab names each node's host after the node", "remove it, or rename the node")
        case "settings", "debug":
            return ("'\(key)' configures containerlab itself", "remove it")
        case "prefix":
            return ("'prefix' must be a string", "write prefix: myprefix, or prefix: \"\" for namespaces named as the nodes")
        default:
            return ("'\(key)' configures a container (its resources, privileges, storage or runtime); an nslab node is a "
                    + "network namespace running the host's programs, which has none of these",
                    "remove it; nslab runs linux and bridge nodes, their links, exec lines, env and binds of single /etc files")
        }
    }
}
