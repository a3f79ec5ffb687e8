import Testing
@testable import Lab
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

    @Test func torusEveryPairPings() throws {
        try deployAndPingAll(try .grid(rows: 3, columns: 3, torus: true), base: "torus", dualStack: false)
    }

    @Test func dualStackLeafSpineEveryPairPingsBothFamilies() throws {
        try deployAndPingAll(try .leafSpine(spines: 2, leaves: 2, hostsPerLeaf: 1), base: "clos", dualStack: true)
    }
}
