import Foundation
import Testing

/// Seed 001's routed lab typed by hand with `ip`, and the same lab deployed by nslab from
/// examples/routers.yaml, must leave the kernel in the same state, field by field, apart from
/// what nslab does on purpose (loopback up and tagged with an alias, forwarding set on
/// every node rather than inherited from the host).
@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct SeedComparisonTests {
    static let nodes = ["ns01", "ns02", "router01", "router02"]

    /// The seed's commands in order, with two changes that leave the same end state: each veth is
    /// created with its ends already in their namespaces (the seed creates them in the host and
    /// moves them, which would put fixed names in the host namespace of the machine running the
    /// test), and forwarding is set on the routers, which the seed takes from the host.
    static func handCommands(_ ns: (String) -> String) -> [String] {
        var commands = nodes.map { "ip netns add \(ns($0))" }
        commands += [
            "ip link add ns01-veth0 netns \(ns("ns01")) type veth peer name gw01-veth0 netns \(ns("router01"))",
            "ip link add gw01-veth1 netns \(ns("router01")) type veth peer name gw02-veth0 netns \(ns("router02"))",
            "ip link add gw02-veth1 netns \(ns("router02")) type veth peer name ns02-veth0 netns \(ns("ns02"))",
        ]
        let up = [("ns01", "ns01-veth0"), ("router01", "gw01-veth0"), ("router01", "gw01-veth1"),
                  ("router02", "gw02-veth0"), ("router02", "gw02-veth1"), ("ns02", "ns02-veth0")]
        commands += up.map { "ip netns exec \(ns($0.0)) ip link set \($0.1) up" }
        let addresses = [("ns01", "192.168.0.1/24", "ns01-veth0"), ("router01", "192.168.0.254/24", "gw01-veth0"),
                         ("router01", "172.16.0.1/24", "gw01-veth1"), ("router02", "172.16.0.2/24", "gw02-veth0"),
                         ("router02", "10.0.0.254/24", "gw02-veth1"), ("ns02", "10.0.0.1/24", "ns02-veth0")]
        commands += addresses.map { "ip netns exec \(ns($0.0)) ip address add \($0.1) dev \($0.2)" }
        commands += [
            "ip netns exec \(ns("ns01")) ip route add default via 192.168.0.254",
            "ip netns exec \(ns("ns02")) ip route add default via 10.0.0.254",
            "ip netns exec \(ns("router01")) ip route add 10.0.0.0/24 via 172.16.0.2",
            "ip netns exec \(ns("router02")) ip route add 192.168.0.0/24 via 172.16.0.1",
        ]
        for node in nodes {
            let on = node.hasPrefix("router") ? 1 : 0
            commands.append("ip netns exec \(ns(node)) sysctl -qw net.ipv4.ip_forward=\(on) net.ipv6.conf.all.forwarding=\(on)")
        }
        return commands
    }

    static func json(_ command: String) -> [[String: Any]] {
        let output = sh(command).output
        return (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [[String: Any]] ?? []
    }

    static func field(_ object: [String: Any], _ key: String) -> String {
        switch object[key] {
        case nil: return "-"
        case let list as [Any]: return "[" + list.map { "\($0)" }.sorted().joined(separator: ",") + "]"
        case let value?: return "\(value)"
        }
    }

    /// What a person compares: interfaces (not their random MACs or indexes), addresses (not the
    /// link-local ones derived from those MACs), routes in every table, forwarding. Loopback is
    /// left out: nslab brings it up, the seed does not.
    static func state(of namespace: String) -> [String] {
        var lines: [String] = []
        for link in json("ip -d -j -n \(namespace) address show") where field(link, "ifname") != "lo" {
            let name = field(link, "ifname")
            let info = link["linkinfo"] as? [String: Any]
            let kind = info.map { field($0, "info_kind") } ?? "-"
            lines.append("link \(name) kind=\(kind) flags=\(field(link, "flags")) mtu=\(field(link, "mtu")) "
                         + "state=\(field(link, "operstate")) qdisc=\(field(link, "qdisc")) txqlen=\(field(link, "txqlen")) "
                         + "type=\(field(link, "link_type")) broadcast=\(field(link, "broadcast")) "
                         + "master=\(field(link, "master")) link=\(field(link, "link"))")
            // A bridge's spanning tree and VLAN filtering, an 802.1Q link's id (not the bridge id,
            // which holds the bridge's random MAC).
            if let data = info?["info_data"] as? [String: Any] {
                let keys = kind == "bridge" ? ["stp_state", "vlan_filtering"] : kind == "vlan" ? ["protocol", "id"] : []
                if !keys.isEmpty { lines.append("linkinfo \(name) " + keys.map { "\($0)=\(field(data, $0))" }.joined(separator: " ")) }
            }
            for address in link["addr_info"] as? [[String: Any]] ?? [] where field(address, "scope") != "link" {
                lines.append("address \(name) \(field(address, "family")) \(field(address, "local"))/\(field(address, "prefixlen")) "
                             + "scope=\(field(address, "scope")) broadcast=\(field(address, "broadcast")) "
                             + "label=\(field(address, "label")) valid=\(field(address, "valid_life_time"))")
            }
        }
        for family in ["-4", "-6"] {
            for route in json("ip \(family) -j -n \(namespace) route show table all")
            where field(route, "dev") != "lo" && !field(route, "dst").hasPrefix("fe80::") {
                lines.append("route \(family) table=\(field(route, "table")) type=\(field(route, "type")) "
                             + "dst=\(field(route, "dst")) via=\(field(route, "gateway")) dev=\(field(route, "dev")) "
                             + "proto=\(field(route, "protocol")) scope=\(field(route, "scope")) "
                             + "src=\(field(route, "prefsrc")) metric=\(field(route, "metric")) flags=\(field(route, "flags"))")
            }
        }
        // Bridge ports' VLANs, as `bridge vlan show` lists them.
        for port in json("bridge -j -n \(namespace) vlan show") {
            let vlans = (port["vlans"] as? [[String: Any]] ?? []).map { "\(field($0, "vlan")) \(field($0, "flags"))" }
            lines.append("vlans \(field(port, "ifname")) " + vlans.sorted().joined(separator: ", "))
        }
        let forwarding = sh("ip netns exec \(namespace) sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding").output
        lines.append("forwarding " + forwarding.split(separator: "\n").joined(separator: " "))
        return lines.sorted()
    }

    @Test func deployedLabMatchesTheSeedTypedByHand() throws {
        let lab = TestLab("seed001")
        defer { lab.cleanUp() }
        let hand = { (node: String) in lab.namespace("hand-" + node) }
        for command in Self.handCommands(hand) {
            let result = sh(command)
            try #require(result.status == 0, "\(command): \(result.output)")
        }
        _ = try lab.deploy(routersBody)

        for node in Self.nodes {
            let byHand = Self.state(of: hand(node))
            let byNslab = Self.state(of: lab.namespace(node))
            #expect(byHand.count > 3, "\(node): nothing read back: \(byHand)")
            #expect(byNslab == byHand, """
                \(node) differs
                only by hand: \(byHand.filter { !byNslab.contains($0) })
                only nslab:   \(byNslab.filter { !byHand.contains($0) })
                """)
        }
        // What nslab does on purpose, so the comparison above is known to have looked at both.
        #expect(sh("ip -n \(lab.namespace("ns01")) link show lo").output.contains(",UP"))
        #expect(!sh("ip -n \(hand("ns01")) link show lo").output.contains(",UP"))
        #expect(sh("ip -n \(lab.namespace("ns01")) -d link show lo").output.contains("alias nslab:\(lab.name)/ns01"))
    }
}
