import Foundation
import NetAddress
import Testing
@testable import Lab
import Topology

@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct DestroyInspectTests {
    @Test func destroyWorksFromTheRecordAloneAndIsIdempotent() throws {
        let lab = TestLab("gone")
        defer { lab.cleanUp() }
        let file = "/tmp/\(lab.name).yaml"
        let text = "name: \(lab.name)\nprefix: \(lab.prefix)\n" + routersBody
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        _ = try LabDeployer.deploy(try Topology.load(path: file), sourceText: text)
        try FileManager.default.removeItem(atPath: file)  // the file is gone; the record is not

        // A process inside a node would keep its namespace and veth alive: destroy ends it.
        let sleeper = sh("ip netns exec \(lab.namespace("ns01")) sleep 300 > /dev/null 2>&1 & echo $!")
        #expect(sleeper.status == 0)
        usleep(100_000)
        let result = try LabDestroyer.destroy(lab: lab.name)
        #expect(result.existed)
        #expect(result.namespacesRemoved.count == 4)
        #expect(result.processesEnded >= 1)
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
        #expect(sh("grep -c ' /run/netns/\(lab.prefix)' /proc/mounts").output.hasPrefix("0"))

        let again = try LabDestroyer.destroy(lab: lab.name)
        #expect(!again.existed)
    }

    @Test func aHubsIPv6TableIsEmptiedBeforeItGoesAndOnlyThen() throws {
        let lab = TestLab("hub")
        defer { lab.cleanUp() }
        _ = try lab.deploy(routersBody)
        let router = lab.namespace("router01")
        let before = sh("ip -n \(router) -6 route show table all").output
        #expect(before.contains("fe80::/64"), "\(before)")
        // Counted from the record: router01 has two link ends, below the threshold.
        let summary = try LabRecord.read(lab: lab.name).summary
        #expect(summary.interfaceCounts["router01"] == 2 && summary.interfaceCounts["ns01"] == 1, "\(summary.interfaceCounts)")
        #expect(LabDestroyer.manyInterfaces > 2)
        // Emptied on request, and only in a namespace that is still the recorded one.
        let inode = try #require(summary.inodes[router])
        LabDestroyer.emptyIPv6Tables([(router, inode + 1)])
        #expect(sh("ip -n \(router) -6 route show table all").output == before)
        LabDestroyer.emptyIPv6Tables([(router, inode)])
        #expect(sh("ip -n \(router) -6 route show table all").output.isEmpty)
        #expect(sh("ip -n \(router) -4 route").output.contains("10.0.0.0/24"), "IPv4 is left alone")
    }

    @Test func destroyLeavesANamespaceThatWasReplacedBySomeoneElse() throws {
        let lab = TestLab("swap")
        defer { lab.cleanUp() }
        _ = try lab.deploy("nodes:\n  a:\n  b:\nlinks:\n  - endpoints: [a, b]\n")
        // Someone removes node b's namespace and makes their own under the same name.
        sh("ip netns delete \(lab.namespace("b")) && ip netns add \(lab.namespace("b"))")
        let result = try LabDestroyer.destroy(lab: lab.name)
        #expect(result.namespacesSkipped == [lab.namespace("b")])
        #expect(lab.namespaces() == [lab.namespace("b")])
    }

    @Test func inspectReadsTheKernelBack() throws {
        let lab = TestLab("look")
        defer { lab.cleanUp() }
        _ = try lab.deploy(routersBody)
        let state = try LabInspector.inspect(lab: lab.name)
        #expect(state.complete)
        #expect(state.nodes.map(\.name) == ["ns01", "ns02", "router01", "router02"])
        let router01 = try #require(state.nodes.first { $0.name == "router01" })
        #expect(router01.kind == "router" && router01.forwarding.ipv4 == true && router01.forwarding.ipv6 == true)
        let gw = try #require(router01.interfaces.first { $0.name == "gw01-veth1" })
        #expect(gw.peer == .init(node: "router02", interface: "gw02-veth0"))
        #expect(gw.addresses.contains("172.16.0.1/24"))
        #expect(gw.up && gw.carrier && gw.state == "UP")
        #expect(gw.alias == nil)
        #expect(router01.routes.contains { $0.destination == "10.0.0.0/24" && $0.gateway == "172.16.0.2" && $0.device == "gw01-veth1" })
        let ns01 = try #require(state.nodes.first { $0.name == "ns01" })
        #expect(ns01.forwarding.ipv4 == false)
        #expect(ns01.routes.contains { $0.destination == "default" && $0.gateway == "192.168.0.254" })

        // Changed by hand, seen by inspect: it reads the kernel, not the file.
        sh("ip -n \(lab.namespace("router01")) link set gw01-veth1 down")
        let after = try LabInspector.inspect(lab: lab.name)
        let peerSide = try #require(after.nodes.first { $0.name == "router02" }?.interfaces.first { $0.name == "gw02-veth0" })
        #expect(!peerSide.carrier)
    }
}

/// One typed reading of a deployed lab serves every command: inspect's JSON is its rendering,
/// and the probes' model and the link commands decide on its types (route kinds and protocols,
/// neighbour states, link kinds), not on inspect's text.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct ObservedLabReadingTests {
    @Test func inspectIsTheRenderingOfTheObservedLabAndExplainReadsItsTypes() throws {
        let lab = TestLab("observed")
        defer { lab.cleanUp() }
        _ = try lab.deploy(routersBody)
        let router = lab.namespace("router01")
        // By hand: a blackhole route, a route of a routing daemon's protocol, a failed neighbour.
        #expect(sh("ip -n \(router) route add blackhole 10.50.0.0/16").status == 0)
        #expect(sh("ip -n \(router) route add 10.51.0.0/16 via 172.16.0.2 proto ospf").status == 0)
        #expect(sh("ip -n \(router) neigh replace 172.16.0.9 dev gw01-veth1 nud failed 2>&1").status == 0)

        let (observed, topology) = try ObservedLab.read(deployed: lab.name)
        #expect(topology != nil)
        #expect(observed.node("router01")?.kind == .router && observed.node("ns01")?.kind == .host)
        #expect(observed.nodes.allSatisfy(\.present) && !observed.nodes.contains(where: \.stopped))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Another reading, the same lab: inspect --json is the rendering (no FRR here to ask).
        let inspected = try LabInspector.inspect(lab: lab.name)
        #expect(try encoder.encode(inspected) == (try encoder.encode(LabState(try ObservedLab.read(deployed: lab.name).lab))))
        let json = sh("\(nslabBinary) inspect --json \(lab.name)").output
        let cli = try JSONDecoder().decode(LabState.self, from: Data(json.utf8))
        #expect(cli.nodes.first { $0.name == "router01" }?.routes.contains { $0.destination == "10.50.0.0/16" && $0.type == "blackhole" } == true)

        let network = LabNetwork(observed: observed, topology: topology)
        let model = network.model()
        let routes = try #require(model.nodes.first { $0.name == "router01" }).routes
        #expect(routes.first { $0.destination.description == "10.50.0.0/16" }?.kind == .blackhole)
        #expect(routes.first { $0.destination.description == "10.51.0.0/16" }?.protocolName == "ospf")
        #expect(routes.first { $0.destination.description == "10.0.0.0/24" }?.protocolName == nil, "nslab's own route")
        let neighbours = try #require(model.nodes.first { $0.name == "router01" }).neighbours
        #expect(neighbours.first { $0.address.description == "172.16.0.9" }?.isFailed == true, "\(neighbours.map(\.state))")
        let explained = try Explainer.explain(lab: lab.name, from: "ns01", to: "10.50.0.1")
        #expect(explained.explanation.problem?.node == "router01" && explained.explanation.problem?.cause == .rejectRoute,
                "\(Explainer.render(explained))")
        #expect(network.addresses(of: "ns02") == [IPAddress("10.0.0.1")!])
        #expect(network.owner(of: IPAddress("172.16.0.2")!)?.description == "router02:gw02-veth0")

        // `nslab link` names ends by the kernel's link kinds: lo is not one.
        #expect(throws: LabError.self) { _ = try LinkControl.ends(lab: lab.name, target: "ns01:lo") }
        let ends = try LinkControl.ends(lab: lab.name, target: "router01:gw01-veth1").ends
        #expect(ends.map(\.id) == ["router01:gw01-veth1", "router02:gw02-veth0"])
    }
}
