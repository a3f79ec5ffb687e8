import Foundation
import Testing
@testable import Lab
import Namespaces
import Topology

/// Generated shapes deployed into the kernel: every node reaches one address of every other
/// node with the real ping, over the routes the generator computed.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct GeneratedLabTests {
    func deployAndPingAll(_ shape: GeneratedShape, base: String, dualStack: Bool) throws {
        let lab = TestLab(base)
        defer { lab.cleanUp() }
        let topology = shape.topology(name: lab.name, prefix: lab.prefix, dualStack: dualStack)
        let text = YAMLWriter.yaml(of: topology)
        _ = try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(lab.name).yaml"), sourceText: text)

        var failures: [String] = []
        for source in topology.nodes {
            for target in topology.nodes where target.name != source.name {
                for address in topology.endpoints(of: target.name).first?.addresses ?? [] {
                    let ping = lab.exec(source.name, "ping -c 1 -W 2 \(address.address)")
                    if ping.status != 0 { failures.append("\(source.name) → \(target.name) \(address.address)") }
                }
            }
        }
        #expect(failures.isEmpty, "unreachable: \(failures.prefix(10))")
    }

    /// Every address of every node from every node (nslab verify), over the merged routes
    /// `generate` writes: merging must not lose a subnet or send one the wrong way.
    @Test(arguments: ["chain", "grid", "torus", "tree", "ring"])
    func mergedRoutesReachEveryAddress(_ name: String) throws {
        let shape: GeneratedShape = switch name {
        case "chain": try .chain(nodes: 12)
        case "grid": try .grid(rows: 4, columns: 4, torus: false)
        case "torus": try .grid(rows: 3, columns: 4, torus: true)
        case "tree": try .tree(depth: 3, fanout: 2)
        default: try .ring(nodes: 9)
        }
        let lab = TestLab("m\(name)")
        defer { lab.cleanUp() }
        let topology = shape.topology(name: lab.name, prefix: lab.prefix, dualStack: true)
        let merged = topology.nodes.flatMap(\.routes).filter { ($0.reason ?? "").contains("merged into one block") }
        #expect(!merged.isEmpty, "\(name): nothing was merged, so this checks nothing of merging")
        let text = YAMLWriter.yaml(of: topology)
        _ = try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(lab.name).yaml"), sourceText: text)
        let report = try Verifier.verify(lab: lab.name)
        let failed = report.pairs.filter { !$0.reachable }
        #expect(report.passed && failed.isEmpty, "\(name): \(failed.prefix(5))")
        #expect(report.pairs.count > topology.nodes.count * (topology.nodes.count - 1), "\(name): every address, not one per node")
    }

    @Test func torusEveryPairPings() throws {
        try deployAndPingAll(try .grid(rows: 3, columns: 3, torus: true), base: "torus", dualStack: false)
    }

    @Test func dualStackLeafSpineEveryPairPingsBothFamilies() throws {
        try deployAndPingAll(try .leafSpine(spines: 2, leaves: 2, hostsPerLeaf: 1), base: "clos", dualStack: true)
    }
}

/// `neighbours: static`: permanent entries on both ends of every link, with the MACs nslab chose
/// (or the file gave), and a warning for large labs without it.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct StaticNeighbourTests {
    @Test func everyLinkEndKnowsItsPeerPermanently() throws {
        let lab = TestLab("neigh")
        defer { lab.cleanUp() }
        var topology = try GeneratedShape.star(leaves: 3).topology(name: lab.name, prefix: lab.prefix, dualStack: true)
        topology.neighbours = .permanent
        topology.links[0].endpoints[0].mac = [0x02, 0, 0, 0, 0xaa, 0x01]
        let text = YAMLWriter.yaml(of: topology)
        #expect(text.contains("neighbours: static"))
        _ = try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(lab.name).yaml"), sourceText: text)
        let leaf1 = sh("ip -n \(lab.namespace("leaf1")) neigh show").output
        #expect(leaf1.contains("10.0.0.1 dev eth0 lladdr 02:00:00:00:aa:01 PERMANENT"), "\(leaf1)")
        #expect(leaf1.contains("fd00::1 dev eth0 lladdr 02:00:00:00:aa:01 PERMANENT"), "\(leaf1)")
        let hub = sh("ip -n \(lab.namespace("hub")) neigh show").output
        #expect(hub.components(separatedBy: "PERMANENT").count - 1 == 6, "\(hub)")
        #expect(sh("ip -n \(lab.namespace("hub")) link show eth0").output.contains("link/ether 02:00:00:00:aa:01"))
        #expect(lab.exec("leaf3", "ping -c 1 -W 2 10.0.0.2").status == 0)
        #expect(lab.exec("leaf3", "ping -6 -c 1 -W 2 fd00::2").status == 0)
    }

    @Test func aHubOfManyInterfacesWorksAndGoesCompletely() throws {
        let lab = TestLab("bighub")
        defer { lab.cleanUp() }
        let leaves = LabDestroyer.manyInterfaces + 20
        let topology = try GeneratedShape.star(leaves: leaves).topology(name: lab.name, prefix: lab.prefix)
        let text = YAMLWriter.yaml(of: topology)
        _ = try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(lab.name).yaml"), sourceText: text)
        #expect(lab.namespaces().count == leaves + 1)
        #expect(lab.exec("leaf\(leaves)", "ping -c 1 -W 2 10.0.0.1").status == 0)
        // Every end with one queue of each kind.
        #expect(sh("ip -n \(lab.namespace("hub")) -d link show eth0").output.contains("numtxqueues 1 numrxqueues 1"))
        // Destroy empties the hub's IPv6 table first (manyInterfaces), then removes everything.
        let result = try LabDestroyer.destroy(lab: lab.name)
        #expect(result.namespacesRemoved.count == leaves + 1)
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
        #expect(sh("grep -c ' \(LabRecord.root)/\(lab.name)/' /proc/self/mounts").output.hasPrefix("0"), "no mount of the lab left")
    }

    /// 1,200 IPv4 link ends pass the stock gc_thresh2 (512). Hosts that raised it have no risk to report.
    @Test(.enabled(if: (try? Sysctl.read("net.ipv4.neigh.default.gc_thresh2")).flatMap { Int($0) }.map { $0 < 1200 } == true,
                   "the host's gc_thresh2 is 1,200 or more"))
    func largeLabsGetPermanentEntriesUnlessTheyAskForDynamic() throws {
        let big = try GeneratedShape.star(leaves: 600).topology(name: "w")
        #expect(big.neighbours == nil)
        #expect(LabDeployer.usesPermanentNeighbours(big))
        let automatic = try #require(LabDeployer.neighbourTableWarning(big))
        #expect(automatic.hasPrefix("permanent neighbour entries on every link") && automatic.contains("1200 IPv4 neighbour entries"))
        #expect(automatic.contains("`neighbours: dynamic`") && !automatic.contains("\n"), "one line, saying how to keep ARP")

        var dynamic = big
        dynamic.neighbours = .dynamic
        #expect(!LabDeployer.usesPermanentNeighbours(dynamic))
        let warning = try #require(LabDeployer.neighbourTableWarning(dynamic))
        #expect(warning.contains("1200 IPv4 neighbour entries") && warning.contains("neighbours: static"))

        var fixed = big
        fixed.neighbours = .permanent
        #expect(LabDeployer.neighbourTableWarning(fixed) == nil && LabDeployer.usesPermanentNeighbours(fixed))
        let small = try GeneratedShape.star(leaves: 50).topology(name: "s")
        #expect(LabDeployer.neighbourTableWarning(small) == nil && !LabDeployer.usesPermanentNeighbours(small))
    }
}

/// A lab with no addresses and no routes at all, only `addressing:` and `routing: static`:
/// every node pings every address of every other, both families.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct AutomaticAddressingTests {
    @Test func noAddressesNoRoutesEveryPairPings() throws {
        let lab = TestLab("auto")
        defer { lab.cleanUp() }
        let body = """
            addressing: { ipv4: 10.77.0.0/24, ipv6: "fd00:77::/48" }
            routing: static
            nodes: { h1: , r1: { kind: router }, r2: { kind: router }, r3: { kind: router }, h2: }
            links:
              - endpoints: [h1, r1]
              - endpoints: [r1, r2]
              - endpoints: [r2, r3]
              - endpoints: [r3, r1]
              - endpoints: [r3, h2]

            """
        let result = try lab.deploy(body)
        #expect(result.addresses == 20)
        let topology = try Topology.parse(yaml: "name: \(lab.name)\nprefix: \(lab.prefix)\n" + body, file: "auto.yaml")
        var failures: [String] = []
        for source in topology.nodes {
            for endpoint in topology.links.flatMap(\.endpoints) where endpoint.node != source.name {
                for address in endpoint.addresses where lab.exec(source.name, "ping -c 1 -W 2 \(address.address)").status != 0 {
                    failures.append("\(source.name) → \(address.address)")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }
}
