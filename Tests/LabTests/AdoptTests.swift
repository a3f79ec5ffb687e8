import Foundation
import Testing

/// The seed tutorials typed by hand with `ip`, adopted with `nslab adopt`, and redeployed from the
/// written file: the kernel state must be the same, field by field (SeedComparisonTests.state).
///
/// Each seed's commands are typed as the seed types them, with three changes that keep the
/// machine safe and leave the same end state: namespace names get the test's prefix; the
/// commands the seed types in the host namespace (`ip link add … type veth`, `ip link set … netns`)
/// run in a scratch namespace of the test's own (`PREFIXhost`), so no interface ever appears in
/// the machine's namespace; addresses outside 10/8 and 192.0.2.0/24 are moved into them
/// (192.168.0.0/24 → 10.1.0.0/24, 172.16.0.0/24 → 10.2.0.0/24, 192.0.1.0/24 → 192.0.2.0/24).
@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct AdoptTests {
    /// A lab typed by hand: its namespaces (the seed's names with the test's prefix), a scratch
    /// "host" namespace, and a directory for the files nslab writes.
    struct HandMadeLab {
        let lab: TestLab
        let nodes: [String]
        let directory: String

        init(_ base: String, nodes: [String]) {
            lab = TestLab(base)
            self.nodes = nodes
            directory = NSTemporaryDirectory() + lab.name
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        func ns(_ node: String) -> String { lab.namespace(node) }
        var host: String { ns("host") }
        /// A command the seed types in the host's namespace.
        func inHost(_ command: String) -> String { "ip netns exec \(host) \(command)" }
        var namespaces: [String] { nodes.map(ns) }
        var file: String { "\(directory)/\(lab.name).yaml" }

        func type(_ commands: [String]) throws {
            sh("ip netns add \(host)")
            for command in commands {
                let result = sh(command)
                try #require(result.status == 0, "\(command): \(result.output)")
            }
        }

        /// Every node's kernel state and its /etc/netns files.
        func state() -> [String: [String]] {
            Dictionary(uniqueKeysWithValues: namespaces.map { namespace in
                (namespace, SeedComparisonTests.state(of: namespace) + Self.files(of: namespace))
            })
        }

        static func files(of namespace: String) -> [String] {
            let directory = "/etc/netns/\(namespace)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return names.sorted().map { name in
                "file \(name): " + ((try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)) ?? "?")
            }
        }

        /// A bridge's operational state stays UNKNOWN until the kernel's link watch runs, which
        /// it does up to a second late for a bridge (not an urgent event): what was typed by
        /// hand had that second, a fresh deploy has not.
        func waitForOperationalStates() {
            for _ in 0..<30 {
                let unknown = namespaces.contains { namespace in
                    SeedComparisonTests.json("ip -j -n \(namespace) link show")
                        .contains { SeedComparisonTests.field($0, "ifname") != "lo" && SeedComparisonTests.field($0, "operstate") == "UNKNOWN" }
                }
                if !unknown { return }
                usleep(100_000)
            }
        }

        /// The hand-made namespaces and their /etc/netns directories, gone.
        func removeHandMade() {
            for namespace in namespaces + [host] { sh("ip netns delete \(namespace)") }
            for namespace in namespaces { try? FileManager.default.removeItem(atPath: "/etc/netns/\(namespace)") }
        }

        func cleanUp() {
            sh("\(nslabBinary) destroy \(lab.name)")
            removeHandMade()
            lab.cleanUp()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Adopts the hand-made lab, removes it, deploys the written file and compares. Returns the
    /// written file's text.
    @discardableResult
    static func adoptRemoveAndRedeploy(_ hand: HandMadeLab) throws -> String {
        let before = hand.state()
        for namespace in hand.namespaces {
            #expect(before[namespace]?.isEmpty == false, "\(namespace): nothing read back")
        }
        let adopt = sh("\(nslabBinary) adopt \(hand.namespaces.joined(separator: " ")) --name \(hand.lab.name) -o \(hand.file)")
        try #require(adopt.status == 0, "adopt: \(adopt.output)")
        let text = try String(contentsOfFile: hand.file, encoding: .utf8)
        hand.removeHandMade()
        #expect(hand.lab.namespaces().isEmpty, "hand-made namespaces left: \(hand.lab.namespaces())")

        let deploy = sh("\(nslabBinary) deploy \(hand.file)")
        try #require(deploy.status == 0, "deploy: \(deploy.output)\n\(text)")
        hand.waitForOperationalStates()
        let after = hand.state()
        for namespace in hand.namespaces {
            // nslab gives a node without its own files a hosts and a resolv.conf (said at the top
            // of the written file); every file the hand-made node had must be there, the same.
            let handFiles = before[namespace, default: []].filter { $0.hasPrefix("file ") }
            let kernel = { (lines: [String]) in lines.filter { !$0.hasPrefix("file ") } }
            #expect(kernel(after[namespace, default: []]) == kernel(before[namespace, default: []]), """
                \(namespace) differs
                only by hand: \(kernel(before[namespace, default: []]).filter { !(after[namespace] ?? []).contains($0) })
                only nslab:   \(kernel(after[namespace, default: []]).filter { !(before[namespace] ?? []).contains($0) })
                file:
                \(text)
                """)
            for file in handFiles { #expect(after[namespace, default: []].contains(file), "\(namespace): \(file)") }
        }
        return text
    }

    /// Adopts with --manage: deploying the file afterwards changes nothing, the namespaces are the
    /// hand-made ones still (same inode), inspect reads them, destroy leaves nothing.
    static func manageThenDeployAndDestroy(_ hand: HandMadeLab) throws {
        let before = hand.state()
        let inodes = hand.namespaces.map { sh("stat -L -c %i /run/netns/\($0)").output }
        let adopt = sh("\(nslabBinary) adopt \(hand.namespaces.joined(separator: " ")) --name \(hand.lab.name) -o \(hand.file) --manage")
        try #require(adopt.status == 0, "adopt --manage: \(adopt.output)")
        #expect(adopt.output.contains("managed by nslab"), "\(adopt.output)")

        let deploy = sh("\(nslabBinary) deploy \(hand.file)")
        #expect(deploy.status == 0)
        #expect(deploy.output.contains("nothing to do"), "deploy after adopt --manage: \(deploy.output)")
        #expect(hand.namespaces.map { sh("stat -L -c %i /run/netns/\($0)").output } == inodes, "namespaces were made again")
        let after = hand.state()
        for namespace in hand.namespaces {
            let kernel = { (lines: [String]) in lines.filter { !$0.hasPrefix("file ") } }
            #expect(kernel(after[namespace, default: []]) == kernel(before[namespace, default: []]), "\(namespace) changed")
        }
        let inspect = sh("\(nslabBinary) inspect \(hand.lab.name) --json")
        #expect(inspect.status == 0, "\(inspect.output)")
        for namespace in hand.namespaces { #expect(inspect.output.contains("\"\(namespace)\""), "inspect lacks \(namespace)") }

        let destroy = sh("\(nslabBinary) destroy \(hand.lab.name)")
        #expect(destroy.status == 0, "\(destroy.output)")
        #expect(hand.lab.namespaces().filter { $0 != hand.host }.isEmpty, "left after destroy: \(hand.lab.namespaces())")
        for namespace in hand.namespaces {
            #expect(!FileManager.default.fileExists(atPath: "/etc/netns/\(namespace)"), "/etc/netns/\(namespace) left")
        }
        #expect(!FileManager.default.fileExists(atPath: "/run/nslab/\(hand.lab.name)"))
    }

    // MARK: seed 000: two namespaces, one veth pair made in the host and moved

    static func seed000(_ hand: HandMadeLab) -> [String] {
        [
            "ip netns add \(hand.ns("ns1"))",
            "ip netns add \(hand.ns("ns2"))",
            hand.inHost("ip link add veth1 type veth peer name veth2"),
            hand.inHost("ip link set veth1 netns \(hand.ns("ns1"))"),
            hand.inHost("ip link set veth2 netns \(hand.ns("ns2"))"),
            "ip netns exec \(hand.ns("ns1")) ip address add 192.0.2.1/24 dev veth1",
            "ip netns exec \(hand.ns("ns2")) ip address add 192.0.2.2/24 dev veth2",
            "ip netns exec \(hand.ns("ns1")) ip link set veth1 up",
            "ip netns exec \(hand.ns("ns2")) ip link set veth2 up",
        ]
    }

    @Test func seed000TwoNamespaces() throws {
        let hand = HandMadeLab("ad0", nodes: ["ns1", "ns2"])
        defer { hand.cleanUp() }
        try hand.type(Self.seed000(hand))
        let text = try Self.adoptRemoveAndRedeploy(hand)
        #expect(text.contains("\(hand.ns("ns1")):veth1"), "interface names kept: \(text)")
        let ping = sh("ip netns exec \(hand.ns("ns1")) ping -c 1 -W 2 192.0.2.2")
        #expect(ping.status == 0, "\(ping.output)")
    }

    @Test func seed000Managed() throws {
        let hand = HandMadeLab("ad0m", nodes: ["ns1", "ns2"])
        defer { hand.cleanUp() }
        try hand.type(Self.seed000(hand))
        try Self.manageThenDeployAndDestroy(hand)
    }

    // MARK: seed 001: two namespaces, then two hosts behind two routers

    static func seed001Direct(_ hand: HandMadeLab) -> [String] {
        [
            "ip netns add \(hand.ns("ns01"))",
            "ip netns add \(hand.ns("ns02"))",
            hand.inHost("ip link add ns01-veth0 type veth peer name ns02-veth0"),
            hand.inHost("ip link set ns01-veth0 netns \(hand.ns("ns01"))"),
            hand.inHost("ip link set ns02-veth0 netns \(hand.ns("ns02"))"),
            "ip netns exec \(hand.ns("ns01")) ip address add 10.1.0.1/24 dev ns01-veth0",
            "ip netns exec \(hand.ns("ns02")) ip address add 10.1.0.2/24 dev ns02-veth0",
            "ip netns exec \(hand.ns("ns01")) ip link set ns01-veth0 up",
            "ip netns exec \(hand.ns("ns02")) ip link set ns02-veth0 up",
        ]
    }

    static func seed001Routed(_ hand: HandMadeLab) -> [String] {
        let ns = hand.ns
        var commands = ["ns01", "ns02", "router01", "router02"].map { "ip netns add \(ns($0))" }
        commands += [
            hand.inHost("ip link add ns01-veth0 type veth peer name gw01-veth0"),
            hand.inHost("ip link add gw01-veth1 type veth peer name gw02-veth0"),
            hand.inHost("ip link add gw02-veth1 type veth peer name ns02-veth0"),
            hand.inHost("ip link set ns01-veth0 netns \(ns("ns01"))"),
            hand.inHost("ip link set gw01-veth0 netns \(ns("router01"))"),
            hand.inHost("ip link set gw01-veth1 netns \(ns("router01"))"),
            hand.inHost("ip link set gw02-veth0 netns \(ns("router02"))"),
            hand.inHost("ip link set gw02-veth1 netns \(ns("router02"))"),
            hand.inHost("ip link set ns02-veth0 netns \(ns("ns02"))"),
        ]
        let up = [("ns01", "ns01-veth0"), ("router01", "gw01-veth0"), ("router01", "gw01-veth1"),
                  ("router02", "gw02-veth0"), ("router02", "gw02-veth1"), ("ns02", "ns02-veth0")]
        commands += up.map { "ip netns exec \(ns($0.0)) ip link set \($0.1) up" }
        let addresses = [("ns01", "10.1.0.1/24", "ns01-veth0"), ("router01", "10.1.0.254/24", "gw01-veth0"),
                         ("router01", "10.2.0.1/24", "gw01-veth1"), ("router02", "10.2.0.2/24", "gw02-veth0"),
                         ("router02", "10.0.0.254/24", "gw02-veth1"), ("ns02", "10.0.0.1/24", "ns02-veth0")]
        commands += addresses.map { "ip netns exec \(ns($0.0)) ip address add \($0.1) dev \($0.2)" }
        commands += [
            "ip netns exec \(ns("ns01")) ip route add default via 10.1.0.254",
            "ip netns exec \(ns("ns02")) ip route add default via 10.0.0.254",
            "ip netns exec \(ns("router01")) ip route add 10.0.0.0/24 via 10.2.0.2",
            "ip netns exec \(ns("router02")) ip route add 10.1.0.0/24 via 10.2.0.1",
        ]
        return commands
    }

    @Test func seed001Direct() throws {
        let hand = HandMadeLab("ad1", nodes: ["ns01", "ns02"])
        defer { hand.cleanUp() }
        try hand.type(Self.seed001Direct(hand))
        try Self.adoptRemoveAndRedeploy(hand)
    }

    @Test func seed001Routed() throws {
        let hand = HandMadeLab("ad1r", nodes: ["ns01", "ns02", "router01", "router02"])
        defer { hand.cleanUp() }
        try hand.type(Self.seed001Routed(hand))
        let text = try Self.adoptRemoveAndRedeploy(hand)
        #expect(text.contains("routes: [10.0.0.0/24 via 10.2.0.2]"), "\(text)")
    }

    @Test func seed001RoutedManaged() throws {
        let hand = HandMadeLab("ad1m", nodes: ["ns01", "ns02", "router01", "router02"])
        defer { hand.cleanUp() }
        try hand.type(Self.seed001Routed(hand))
        try Self.manageThenDeployAndDestroy(hand)
    }

    // MARK: seed 003: ns1 and ns2 (and an empty helloworld)

    /// The seed's own lines do not run as printed: `type peer` lacks `veth`, its addresses are
    /// masked (XXX.X.X.1/XX) and ns2's is put on ns1-veth0; typed with those three mended.
    static func seed003(_ hand: HandMadeLab) -> [String] {
        [
            "ip netns add \(hand.ns("helloworld"))",
            "ip netns add \(hand.ns("ns1"))",
            "ip netns add \(hand.ns("ns2"))",
            hand.inHost("ip link add ns1-veth0 type veth peer name ns2-veth0"),
            hand.inHost("ip link set ns1-veth0 netns \(hand.ns("ns1"))"),
            hand.inHost("ip link set ns2-veth0 netns \(hand.ns("ns2"))"),
            "ip netns exec \(hand.ns("ns1")) ip address add 192.0.2.1/24 dev ns1-veth0",
            "ip netns exec \(hand.ns("ns2")) ip address add 192.0.2.2/24 dev ns2-veth0",
            "ip netns exec \(hand.ns("ns1")) ip link set ns1-veth0 up",
            "ip netns exec \(hand.ns("ns2")) ip link set ns2-veth0 up",
        ]
    }

    @Test func seed003() throws {
        let hand = HandMadeLab("ad3", nodes: ["helloworld", "ns1", "ns2"])
        defer { hand.cleanUp() }
        try hand.type(Self.seed003(hand))
        let text = try Self.adoptRemoveAndRedeploy(hand)
        #expect(text.contains("  \(hand.ns("helloworld")):\n") || text.hasSuffix("  \(hand.ns("helloworld")):"),
                "an empty namespace is a node too: \(text)")
    }

    // MARK: seed 004: /etc/netns files

    static func seed004(_ hand: HandMadeLab) -> [String] {
        let (alpha, beta) = (hand.ns("alpha"), hand.ns("beta"))
        return [
            "ip netns add \(alpha)",
            "ip netns add \(beta)",
            "ip netns exec \(alpha) ip link set lo up",
            "ip netns exec \(beta) ip link set lo up",
            "mkdir -p /etc/netns/\(alpha)",
            "mkdir /etc/netns/\(beta)",
            "cp /etc/hosts /etc/netns/\(alpha)/",
            "cp /etc/hosts /etc/netns/\(beta)/",
            // The seed edits both copies in an editor to these lines.
            "printf '127.0.0.1       localhost\\n127.0.1.1       \(alpha)\\n' > /etc/netns/\(alpha)/hosts",
            "printf '127.0.0.1       localhost\\n127.0.1.1       \(beta)\\n' > /etc/netns/\(beta)/hosts",
        ]
    }

    @Test func seed004EtcFiles() throws {
        let giveBack = borrowEtcNetns()
        let hand = HandMadeLab("ad4", nodes: ["alpha", "beta"])
        defer { hand.cleanUp(); giveBack() }
        try hand.type(Self.seed004(hand))
        let text = try Self.adoptRemoveAndRedeploy(hand)
        #expect(text.contains("hosts: |"), "\(text)")
        let ping = sh("ip netns exec \(hand.ns("alpha")) ping -c 1 -W 2 \(hand.ns("alpha"))")
        #expect(ping.status == 0 && ping.output.contains("127.0.1.1"), "\(ping.output)")
    }

    @Test func seed004Managed() throws {
        let giveBack = borrowEtcNetns()
        let hand = HandMadeLab("ad4m", nodes: ["alpha", "beta"])
        defer { hand.cleanUp(); giveBack() }
        try hand.type(Self.seed004(hand))
        try Self.manageThenDeployAndDestroy(hand)
    }

    // MARK: beyond the seeds: a switch, MTU, a link down, IPv6, forwarding on one family

    @Test func bridgeMTUAndStateDown() throws {
        let hand = HandMadeLab("ad5", nodes: ["sw", "h1", "h2", "h3", "r1"])
        defer { hand.cleanUp() }
        let ns = hand.ns
        var commands = hand.nodes.map { "ip netns add \(ns($0))" }
        commands += [
            "ip netns exec \(ns("sw")) ip link add br0 type bridge",
            "ip netns exec \(ns("sw")) ip link set br0 up",
        ]
        for host in ["h1", "h2", "h3"] {
            commands += [
                "ip link add \(host)-eth0 netns \(ns(host)) type veth peer name \(host) netns \(ns("sw"))",
                "ip netns exec \(ns("sw")) ip link set \(host) master br0",
                "ip netns exec \(ns("sw")) ip link set \(host) up",
                "ip netns exec \(ns(host)) ip link set \(host)-eth0 up",
            ]
        }
        commands += [
            "ip netns exec \(ns("h1")) ip address add 10.5.0.1/24 dev h1-eth0",
            "ip netns exec \(ns("h2")) ip address add 10.5.0.2/24 dev h2-eth0",
            "ip netns exec \(ns("h2")) ip address add fd00:5::2/64 dev h2-eth0 nodad",
            "ip netns exec \(ns("h3")) ip address add 10.5.0.3/24 dev h3-eth0",
            "ip link add up1 netns \(ns("h1")) mtu 1400 type veth peer name r1-in netns \(ns("r1")) mtu 1400",
            "ip netns exec \(ns("h1")) ip address add 10.6.0.1/30 dev up1",
            "ip netns exec \(ns("r1")) ip address add 10.6.0.2/30 dev r1-in",
            "ip netns exec \(ns("r1")) sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
            "ip netns exec \(ns("h1")) ip link set up1 up",
            "ip netns exec \(ns("r1")) ip link set r1-in up",
            "ip netns exec \(ns("h1")) ip route add 10.7.0.0/24 via 10.6.0.2 metric 20",
            // Unplugged: both ends down, as `state: down` makes it.
            "ip netns exec \(ns("h1")) ip link set up1 down",
            "ip netns exec \(ns("r1")) ip link set r1-in down",
        ]
        try hand.type(commands)
        let text = try Self.adoptRemoveAndRedeploy(hand)
        #expect(text.contains("\(ns("sw")): { kind: bridge }"), "\(text)")
        #expect(text.contains("\(ns("r1")): { kind: router }"), "\(text)")
        #expect(text.contains("mtu: 1400") && text.contains("state: down"), "\(text)")
        let ping = sh("ip netns exec \(ns("h1")) ping -c 1 -W 2 10.5.0.3")
        #expect(ping.status == 0, "\(ping.output)")
    }

    /// A router made the tutorials' way (`sysctl net.ipv4.ip_forward=1`) forwards IPv4 only, which
    /// a topology cannot say: the file says so at the top, and writes a router.
    @Test func forwardingOfOneFamilyIsNoted() throws {
        let hand = HandMadeLab("ad6", nodes: ["a", "r"])
        defer { hand.cleanUp() }
        try hand.type([
            "ip netns add \(hand.ns("a"))", "ip netns add \(hand.ns("r"))",
            "ip link add eth0 netns \(hand.ns("a")) type veth peer name eth0 netns \(hand.ns("r"))",
            "ip netns exec \(hand.ns("r")) sysctl -qw net.ipv4.ip_forward=1",
        ])
        let adopt = sh("\(nslabBinary) adopt \(hand.namespaces.joined(separator: " ")) --name \(hand.lab.name)")
        #expect(adopt.status == 0, "\(adopt.output)")
        #expect(adopt.output.contains("# - \(hand.ns("r")) forwards IPv4 only"), "\(adopt.output)")
        #expect(adopt.output.contains("\(hand.ns("r")): { kind: router }"), "\(adopt.output)")
        // Both ends are named eth0 and, made in their namespaces, have the same index: the
        // pair is still found (by the id each namespace gives the other).
        #expect(adopt.output.contains("endpoints: [\(hand.ns("a")):eth0, \(hand.ns("r")):eth0], state: down"), "\(adopt.output)")
    }

    /// A TTL set by hand on every node is written as `ttl:`; one that differs from node to node
    /// is noted and left out.
    @Test func aTTLSetEverywhereIsWrittenOtherwiseNoted() throws {
        let hand = HandMadeLab("ad7", nodes: ["a", "r"])
        defer { hand.cleanUp() }
        let ttl200 = "sysctl -qw net.ipv4.ip_default_ttl=200 net.ipv6.conf.default.hop_limit=200"
        try hand.type([
            "ip netns add \(hand.ns("a"))", "ip netns add \(hand.ns("r"))",
            "ip netns exec \(hand.ns("a")) \(ttl200)", "ip netns exec \(hand.ns("r")) \(ttl200)",
            "ip link add eth0 netns \(hand.ns("a")) type veth peer name eth0 netns \(hand.ns("r"))",
        ])
        let same = sh("\(nslabBinary) adopt \(hand.namespaces.joined(separator: " ")) --name \(hand.lab.name)")
        #expect(same.status == 0 && same.output.contains("\nttl: 200\n"), "\(same.output)")
        sh("ip netns exec \(hand.ns("r")) sysctl -qw net.ipv4.ip_default_ttl=64")
        let differing = sh("\(nslabBinary) adopt \(hand.namespaces.joined(separator: " ")) --name \(hand.lab.name)")
        #expect(differing.status == 0 && !differing.output.contains("\nttl:"), "\(differing.output)")
        #expect(differing.output.contains("the nodes send with different TTLs or hop limits, 64 (\(hand.ns("r"))); "
                                          + "200 (\(hand.ns("a")), \(hand.ns("r")))"), "\(differing.output)")
    }

    @Test func refusesWhatIsNotThere() throws {
        let missing = sh("\(nslabBinary) adopt ad-no-such-namespace")
        #expect(missing.status == 2)
        #expect(missing.output.contains("there is no namespace ad-no-such-namespace"), "\(missing.output)")
        let noFile = sh("\(nslabBinary) adopt ad-no-such-namespace --manage")
        #expect(noFile.status == 2)
        #expect(noFile.output.contains("--manage needs -o FILE"), "\(noFile.output)")
    }
}
