import NetAddress
import Topology

/// The FRR files of one node, as they are written under /etc/frr/NODE/, and the daemons to run.
public struct FRRNodeConfig: Sendable, Equatable {
    public var node: String
    /// In start order: zebra first (the others connect to it), then staticd, then the rest.
    public var daemons: [String]
    /// frr.conf: the integrated configuration, applied to every daemon with `vtysh -b`.
    public var frrConf: String
    public var vtyshConf: String
    /// FRR's own `daemons` file, so that FRR's tools (`frrinit.sh status NODE`) see what runs.
    public var daemonsFile: String

    public init(node: String, daemons: [String], frrConf: String, vtyshConf: String, daemonsFile: String) {
        self.node = node; self.daemons = daemons; self.frrConf = frrConf; self.vtyshConf = vtyshConf; self.daemonsFile = daemonsFile
    }

    /// The files by name, in the order they are written.
    public var files: [(name: String, content: String)] {
        [("daemons", daemonsFile), ("vtysh.conf", vtyshConf), ("frr.conf", frrConf)]
    }
}

/// Writes each FRR node's configuration. Timers are fast so a lab converges in seconds, not
/// FRR's default minute: OSPF hello 1 s and dead 3 s, no LSA throttling, SPF 50 ms after a
/// change (with them, a three-router chain routes end to end 1.3 s after FRR starts, measured
/// here; with FRR's LSA throttle alone, 11 s); BGP keepalive 1 s, hold 3 s, connect retry 1 s,
/// no advertisement interval.
public enum FRRConfig {
    public static func make(_ lab: RoutedLab) -> [FRRNodeConfig] {
        lab.nodes.map(make)
    }

    public static func make(_ node: RoutedNode) -> FRRNodeConfig {
        var generated = header(node.name)
        if node.protocols.contains(.ospf) || node.protocols.contains(.ospf6) { generated += ospf(node) }
        if node.protocols.contains(.bgp) { generated += bgp(node) }
        let conf: String
        switch node.own {
        case let own? where own.replacesGenerated: conf = ensureNewline(own.config)
        case let own?: conf = generated + "!\n! the node's own frr: settings\n!\n" + ensureNewline(own.config)
        case nil: conf = generated
        }
        var daemons = FRRDaemons.always + node.protocols.map(\.daemon)
        for daemon in (node.own?.daemons ?? []) + daemonsNamed(in: node.own?.config ?? "") where !daemons.contains(daemon) {
            daemons.append(daemon)
        }
        // FRR's order (zebra first, then its list's), whatever order they were asked for in.
        daemons.sort { (FRRDaemons.all.firstIndex(of: $0) ?? .max) < (FRRDaemons.all.firstIndex(of: $1) ?? .max) }
        if let staticd = daemons.firstIndex(of: "staticd"), staticd != 1 {
            daemons.remove(at: staticd)
            daemons.insert("staticd", at: 1)
        }
        let daemonsFile = "\(daemonsFileHeader)\(node.lab), node \(node.name): the daemons nslab runs there.\n"
            + FRRDaemons.all.filter { $0 != "zebra" }.map { "\($0)=\(daemons.contains($0) ? "yes" : "no")\n" }.joined()
            + "vtysh_enable=yes\n"
        return FRRNodeConfig(node: node.name, daemons: daemons, frrConf: conf,
                             vtyshConf: "service integrated-vtysh-config\n", daemonsFile: daemonsFile)
    }

    /// How the daemons file nslab writes begins, followed by the lab's name: `nslab doctor`
    /// knows an FRR directory nslab left behind by it.
    public static let daemonsFileHeader = "# Written by nslab for lab "

    /// Daemons a node's own configuration needs, from the statements that start them.
    public static func daemonsNamed(in config: String) -> [String] {
        let starts: [(prefix: String, daemon: String)] = [
            ("router bgp", "bgpd"), ("router ospf6", "ospf6d"), ("router ospf", "ospfd"), ("ipv6 ospf6 area", "ospf6d"),
            ("ip ospf area", "ospfd"), ("router isis", "isisd"), ("ip router isis", "isisd"), ("ipv6 router isis", "isisd"),
            ("router ripng", "ripngd"), ("router rip", "ripd"), ("router eigrp", "eigrpd"), ("router babel", "babeld"),
            ("router openfabric", "fabricd"), ("bfd", "bfdd"), ("ip pim", "pimd"), ("router pim", "pimd"),
            ("mpls ldp", "ldpd"), ("pbr-map", "pbrd"), ("vrrp", "vrrpd"), ("segment-routing", "pathd"),
        ]
        var found: [String] = []
        for line in config.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            guard let match = starts.first(where: { words == $0.prefix || words.hasPrefix($0.prefix + " ") }) else { continue }
            if !found.contains(match.daemon) { found.append(match.daemon) }
        }
        return found
    }

    private static func ensureNewline(_ text: String) -> String { text.hasSuffix("\n") || text.isEmpty ? text : text + "\n" }

    private static func header(_ name: String) -> String {
        """
        ! Written by nslab for node \(name); `nslab deploy` rewrites it from the topology file.
        frr defaults traditional
        hostname \(name)
        log stdout informational
        service integrated-vtysh-config
        !

        """
    }

    // MARK: OSPF

    private static func ospf(_ node: RoutedNode) -> String {
        let v4 = node.protocols.contains(.ospf), v6 = node.protocols.contains(.ospf6)
        // The router first: its ID is set before any interface starts speaking (after, the
        // neighbours first met under the ID zebra chose linger until their dead interval).
        var text = ""
        if v4 {
            text += """
                router ospf
                 ospf router-id \(node.routerID)
                 timers throttle spf 0 50 1000
                 timers throttle lsa all 0
                 timers lsa min-arrival 0
                exit
                !

                """
        }
        if v6 {
            text += """
                router ospf6
                 ospf6 router-id \(node.routerID)
                 timers throttle spf 0 50 1000
                 timers lsa min-arrival 0
                exit
                !

                """
        }
        for interface in node.interfaces {
            let families = Set(interface.addresses.map(\.family))
            var lines: [String] = []
            for (family, on, prefix) in [(IPAddress.Family.ipv4, v4, "ip ospf"), (.ipv6, v6, "ipv6 ospf6")] {
                guard on, families.contains(family) else { continue }
                // The timers before the area: the area starts the interface, and it should
                // start with them.
                if interface.passive {
                    lines.append("\(prefix) passive")
                } else {
                    if interface.pointToPoint { lines.append("\(prefix) network point-to-point") }
                    lines += ["\(prefix) hello-interval 1", "\(prefix) dead-interval 3"]
                }
                if let cost = interface.cost { lines.append("\(prefix) cost \(cost)") }
                lines.append("\(prefix) area \(interface.area)")
            }
            guard !lines.isEmpty else { continue }
            text += "interface \(interface.name)\n" + lines.map { " \($0)\n" }.joined() + "exit\n!\n"
        }
        return text
    }

    // MARK: BGP

    /// A session with a peer over one family of the subnet they share.
    public struct BGPSession: Equatable, Sendable {
        public var address: IPAddress
        public var asNumber: UInt32
        public var family: IPAddress.Family
        /// The node's interface towards the peer, and the peer.
        public var interface: String
        public var peer: String
    }

    /// The sessions `routing: bgp` configures on a node, as frr.conf has them.
    public static func sessions(of node: RoutedNode) -> [BGPSession] {
        var sessions: [BGPSession] = []
        for interface in node.interfaces {
            for peer in interface.peers {
                guard let asNumber = peer.asNumber else { continue }
                for own in interface.addresses {
                    // The peer's address in the same subnet: the session runs across the link.
                    guard let theirs = peer.addresses.first(where: { $0.family == own.family && own.network.contains($0.address) }),
                          !sessions.contains(where: { $0.address == theirs.address }) else { continue }
                    sessions.append(BGPSession(address: theirs.address, asNumber: asNumber, family: own.family,
                                               interface: interface.name, peer: peer.node))
                }
            }
        }
        return sessions
    }

    private static func bgp(_ node: RoutedNode) -> String {
        guard let asNumber = node.asNumber else { return "" }
        let sessions = sessions(of: node)
        var text = """
            router bgp \(asNumber)
             bgp router-id \(node.routerID)
             no bgp ebgp-requires-policy
             no bgp default ipv4-unicast
             no bgp network import-check
             timers bgp 1 3

            """
        for session in sessions {
            text += " neighbor \(session.address) remote-as \(session.asNumber)\n"
            text += " neighbor \(session.address) timers connect 1\n"
            text += " neighbor \(session.address) advertisement-interval 0\n"
        }
        for (family, name) in [(IPAddress.Family.ipv4, "ipv4"), (.ipv6, "ipv6")] {
            // Every subnet the router is on, once each, as `network` lines: `redistribute
            // connected` would announce the loopback's 127.0.0.0/8 too.
            var networks: [IPPrefix] = []
            for prefix in node.interfaces.flatMap(\.addresses) where prefix.family == family && !networks.contains(prefix.network) {
                networks.append(prefix.network)
            }
            let peers = sessions.filter { $0.family == family }
            guard !networks.isEmpty || !peers.isEmpty else { continue }
            text += " address-family \(name) unicast\n"
            text += networks.map { "  network \($0)\n" }.joined()
            text += peers.map { "  neighbor \($0.address) activate\n" }.joined()
            text += " exit-address-family\n"
        }
        return text + "exit\n!\n"
    }
}
