import CShims
import Foundation
import Testing
@testable import Lab
import Topology

/// The property converging rests on: for any edit, the lab after `deploy` of the edited file is
/// the lab a fresh deploy of that file makes. Seeded random edit sequences over small labs
/// (dual-stack, computed addresses and routes, sometimes permanent neighbours): after each step
/// every node's kernel state, read with `ip`, `tc` and `bridge` (not with nslab's own reader), its
/// /etc files and its processes are compared with a fresh deploy under another prefix.
/// NSLAB_CONVERGE_SEQUENCES and NSLAB_CONVERGE_STEPS make the run longer; NSLAB_CONVERGE_SEED
/// replays one sequence.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct ConvergePropertyTests {
    static let sequences = Int(ProcessInfo.processInfo.environment["NSLAB_CONVERGE_SEQUENCES"] ?? "") ?? 6
    static let steps = Int(ProcessInfo.processInfo.environment["NSLAB_CONVERGE_STEPS"] ?? "") ?? 6

    @Test func convergingEqualsAFreshDeploy() throws {
        let seeds: [UInt64] = ProcessInfo.processInfo.environment["NSLAB_CONVERGE_SEED"].flatMap { UInt64($0) }.map { [$0] }
            ?? (0..<UInt64(Self.sequences)).map { 0x5eed_0000 + $0 }
        var compared = 0
        for seed in seeds {
            compared += try run(seed: seed)
        }
        #expect(compared >= seeds.count * Self.steps, "every step compared")
    }

    /// One sequence; returns how many steps were compared.
    func run(seed: UInt64) throws -> Int {
        let lab = TestLab("prop")
        let fresh = TestLab("fresh")
        let giveBackEtcNetns = borrowEtcNetns()
        defer {
            lab.cleanUp()
            fresh.cleanUp()
            giveBackEtcNetns()
        }
        var random = SplitMix64(seed: seed)
        var model = EditableLab.start(&random)
        _ = try lab.deploy(model.yaml)
        var compared = 0
        for step in 1...Self.steps {
            let edit = model.edit(&random)
            let context = "seed \(seed) step \(step) (\(edit))\n\(model.yaml)"
            let result = try lab.deploy(model.yaml)
            let again = try LabConverger.difference(try lab.topology(model.yaml))
            #expect(again.isEmpty, "converging twice changes something: \(again.changes.map(\.line))\n\(context)")
            _ = try fresh.deploy(model.yaml)
            for node in model.nodes.map(\.name) {
                let differences = NodeComparison.differences(lab.namespace(node), fresh.namespace(node),
                                                             labs: (lab.name, fresh.name))
                #expect(differences.isEmpty, """
                    node \(node) differs from a fresh deploy: \(differences)
                    changes applied: \(result.converged?.difference.changes.map(\.line) ?? [])
                    \(context)
                    """)
                if !differences.isEmpty { return compared }
            }
            #expect(try peers(of: lab) == peers(of: fresh), "veth pairs differ\n\(context)")
            _ = try LabDestroyer.destroy(lab: fresh.name)
            compared += 1
        }
        return compared
    }

    /// Every veth end's peer, as `node:interface`.
    func peers(of lab: TestLab) throws -> [String: String] {
        let observed = try ObservedLab.read(lab: lab.name,
                                            entries: LabRecord.entries(atPath: "\(LabRecord.root)/\(lab.name)/record.jsonl"))
        var peers: [String: String] = [:]
        for node in observed.nodes { for (interface, peer) in node.peers { peers["\(node.name):\(interface)"] = peer.description } }
        return peers
    }
}

/// One namespace's state as the kernel's own tools print it, beside another's.
enum NodeComparison {
    static func differences(_ a: String, _ b: String, labs: (String, String)) -> [String] {
        var left = state(a, lab: labs.0), right = state(b, lab: labs.1)
        // A carrier the kernel reports late (see ScriptTests): give it a second.
        for _ in 0..<10 where left != right {
            usleep(100_000)
            left = state(a, lab: labs.0)
            right = state(b, lab: labs.1)
        }
        return left.filter { !right.contains($0) }.map { "only converged: \($0)" }
            + right.filter { !left.contains($0) }.map { "only fresh: \($0)" }
    }

    static func state(_ namespace: String, lab: String) -> [String] {
        var lines = SeedComparisonTests.state(of: namespace)
        for qdisc in sh("tc -n \(namespace) qdisc show").output.split(separator: "\n") {
            // The handle is the kernel's counter, not the lab's.
            lines.append("qdisc " + qdisc.split(separator: " ").enumerated().filter { $0.offset != 2 }.map(\.element).joined(separator: " "))
        }
        lines += sh("ip -n \(namespace) neigh show nud permanent").output.split(separator: "\n").map { "neigh \($0)" }
        let directory = "/etc/netns/\(namespace)"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() {
            let content = (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)) ?? "?"
            lines.append("file \(name): " + content.replacingOccurrences(of: lab, with: "LAB"))
        }
        for pid in sh("ip netns pids \(namespace)").output.split(separator: "\n") {
            lines.append("process " + sh("tr '\\0' ' ' < /proc/\(pid)/cmdline").output)
        }
        return lines.sorted()
    }
}

/// A small lab as a model that random edits change and that writes itself as a topology file.
struct EditableLab {
    struct NodeModel {
        var name: String
        var router: Bool
        var motd: String?
        var command: String?
    }

    struct LinkModel {
        var a: String
        var b: String
        var mtu: Int?
        var down = false
        var rate: String?
    }

    var nodes: [NodeModel]
    var links: [LinkModel]
    var staticNeighbours: Bool
    var counter = 0

    static func start(_ random: inout SplitMix64) -> EditableLab {
        var lab = EditableLab(nodes: [NodeModel(name: "r0", router: true), NodeModel(name: "h1", router: false),
                                      NodeModel(name: "h2", router: false)],
                              links: [LinkModel(a: "h1", b: "r0"), LinkModel(a: "r0", b: "h2")],
                              staticNeighbours: random.next() % 3 == 0)
        lab.counter = 3
        return lab
    }

    var yaml: String {
        var text = "addressing: { ipv4: 10.77.0.0/16, ipv6: \"fd00:77::/48\" }\nrouting: static\n"
        if staticNeighbours { text += "neighbours: static\n" }
        text += "nodes:\n"
        for node in nodes {
            var fields: [String] = []
            if node.router { fields.append("kind: router") }
            if let motd = node.motd { fields.append("files: { motd: \"\(motd)\\n\" }") }
            if let command = node.command { fields.append("commands: [[\(command.split(separator: " ").joined(separator: ", "))]]") }
            text += "  \(node.name): { \(fields.joined(separator: ", ")) }\n"
        }
        text += "links:\n"
        for link in links {
            var fields = ["endpoints: [\(link.a), \(link.b)]"]
            if let mtu = link.mtu { fields.append("mtu: \(mtu)") }
            if link.down { fields.append("state: down") }
            if let rate = link.rate { fields.append("impair: { rate: \(rate) }") }
            text += "  - { \(fields.joined(separator: ", ")) }\n"
        }
        return text
    }

    /// Makes one random edit; returns what it was.
    mutating func edit(_ random: inout SplitMix64) -> String {
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        switch random.next() % 11 {
        case 0, 1:
            counter += 1
            let router = random.next() % 2 == 0
            let name = (router ? "r" : "h") + String(counter)
            let other = pick(nodes).name
            nodes.append(NodeModel(name: name, router: router))
            links.append(LinkModel(a: other, b: name))
            return "add \(name) linked to \(other)"
        case 2 where nodes.count > 2:
            let victim = pick(nodes).name
            nodes.removeAll { $0.name == victim }
            links.removeAll { $0.a == victim || $0.b == victim }
            return "remove node \(victim)"
        case 3:
            let a = pick(nodes).name, b = pick(nodes.filter { $0.name != a }).name
            links.insert(LinkModel(a: a, b: b), at: Int(random.next() % UInt64(links.count + 1)))
            return "link \(a) and \(b)"
        case 4 where links.count > 1:
            let index = Int(random.next() % UInt64(links.count))
            let link = links.remove(at: index)
            return "unlink \(link.a) and \(link.b)"
        case 5 where !links.isEmpty:
            let index = Int(random.next() % UInt64(links.count))
            links[index].mtu = pick([nil, 1400, 9000])
            return "mtu of \(links[index].a)-\(links[index].b): \(links[index].mtu.map(String.init) ?? "default")"
        case 6 where !links.isEmpty:
            let index = Int(random.next() % UInt64(links.count))
            links[index].down.toggle()
            return "\(links[index].a)-\(links[index].b) \(links[index].down ? "down" : "up")"
        case 7 where !links.isEmpty:
            let index = Int(random.next() % UInt64(links.count))
            links[index].rate = pick([nil, "10mbit", "20mbit"])
            return "rate of \(links[index].a)-\(links[index].b): \(links[index].rate ?? "none")"
        case 8:
            let index = Int(random.next() % UInt64(nodes.count))
            nodes[index].router.toggle()
            return "\(nodes[index].name) \(nodes[index].router ? "router" : "host")"
        case 9:
            let index = Int(random.next() % UInt64(nodes.count))
            nodes[index].motd = pick([nil, "hello", "step \(counter)"])
            return "motd of \(nodes[index].name)"
        case 10:
            let index = Int(random.next() % UInt64(nodes.count))
            nodes[index].command = pick([nil, "sleep 3600", "sleep 3601"])
            return "command of \(nodes[index].name): \(nodes[index].command ?? "none")"
        default:
            staticNeighbours.toggle()
            return "neighbours \(staticNeighbours ? "static" : "dynamic")"
        }
    }
}
