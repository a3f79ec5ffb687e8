// A mutation fuzzer for the two parsers that read input nslab does not control: topology files
// (YAML → model, every diagnostic) and netlink replies (datagram → messages → link, address,
// route and neighbour records). It runs for a given time from a fixed seed, so a crash is
// reproducible: the failing input is written to a file before each parse.
//
//   swift run -c release nslab-fuzz topology --seconds 120 [--seed N]
//   swift run -c release nslab-fuzz netlink --seconds 120 [--seed N]
//
// A crash (a trap, an out-of-bounds read, a stack overflow) ends the process with a signal; an
// input that decodes must yield a topology and one that fails must say where and why.
import Foundation
import NetAddress
import Netlink
import Topology

extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : next(below: n) }
}

let arguments = CommandLine.arguments
@MainActor func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let parsed = Int(arguments[index + 1]) else { return value }
    return parsed
}
let mode = arguments.count > 1 ? arguments[1] : "topology"
let seconds = option("--seconds", default: 60)
var random = SplitMix64(seed: UInt64(option("--seed", default: 1)))
let crashFile = "/tmp/nslab-fuzz-\(mode).input"

/// Mutations that keep some structure: bytes flipped, inserted, removed, chunks duplicated or
/// spliced from a dictionary of tokens that matter to the parser.
@MainActor func mutate(_ input: [UInt8], dictionary: [[UInt8]]) -> [UInt8] {
    var bytes = input
    for _ in 0...random.below(4) {
        switch random.below(6) {
        case 0 where !bytes.isEmpty:
            bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
        case 1:
            bytes.insert(UInt8(random.below(256)), at: random.below(bytes.count + 1))
        case 2 where !bytes.isEmpty:
            let start = random.below(bytes.count)
            bytes.removeSubrange(start..<min(bytes.count, start + 1 + random.below(16)))
        case 3 where !bytes.isEmpty:
            let start = random.below(bytes.count)
            let chunk = bytes[start..<min(bytes.count, start + 1 + random.below(64))]
            bytes.insert(contentsOf: chunk, at: random.below(bytes.count + 1))
        case 4 where !dictionary.isEmpty:
            bytes.insert(contentsOf: dictionary[random.below(dictionary.count)], at: random.below(bytes.count + 1))
        default:
            if !bytes.isEmpty { bytes[random.below(bytes.count)] = UInt8(random.below(256)) }
        }
    }
    return bytes
}

@MainActor func fuzzTopology(seeds: [[UInt8]]) -> Int {
    let tokens = ["\n", "  ", ": ", "- ", "[", "]", "{", "}", ",", "\"", "'", "&a ", "*a", "!!binary ", "~", "#",
                  "via ", "dev ", "metric ", "default", "10.0.0.1/24", "fd00::1/64", "::", "/", "..", "\u{0}", "\t",
                  "kind: router", "routes:", "links:", "endpoints:", "addresses:", "mtu:", "mac:", "files:", "commands:",
                  "expect:", "reaches", "does not reach", "name:", "nodes:", "prefix:", "99999999999999999999",
                  "kind: bridge", "stp: true", "vlan-filtering:", "vlan: ", "vlans: ", "native: ", "interface: ", "4094", "4095"]
        .map { Array($0.utf8) }
    var count = 0
    let deadline = Date().addingTimeInterval(Double(seconds))
    while Date() < deadline {
        let input = mutate(seeds[random.below(seeds.count)], dictionary: tokens)
        FileManager.default.createFile(atPath: crashFile, contents: Data(input))
        guard let text = String(validating: input, as: UTF8.self) else { continue }
        do {
            _ = try Topology.parse(yaml: text, file: "fuzz.yaml")
        } catch {
            // A refusal must say where: a line and column inside (or just past) the file.
            // YAML breaks lines at CR, LF and the Unicode line separators too.
            let lines = 1 + text.unicodeScalars.filter { ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains($0) }.count
            guard let first = error.diagnostics.first, first.location.line >= 1, first.location.line <= lines + 1,
                  first.location.column >= 1, !first.message.isEmpty else {
                fatalError("a refusal without a usable location or message: \(error.diagnostics)")
            }
        }
        count += 1
    }
    return count
}

@MainActor func fuzzNetlink(seeds: [[UInt8]]) -> Int {
    let tokens: [[UInt8]] = [[0, 0, 0, 0], [255, 255, 255, 255], [4, 0, 0, 0], [8, 0, 1, 0], [0x10, 0, 0, 0], [3, 0], [2, 0, 0, 0]]
    var count = 0
    let deadline = Date().addingTimeInterval(Double(seconds))
    while Date() < deadline {
        let input = mutate(seeds[random.below(seeds.count)], dictionary: tokens)
        FileManager.default.createFile(atPath: crashFile, contents: Data(input))
        if let messages = try? ReceivedMessage.parse(input[...]) {
            for message in messages {
                _ = try? LinkInfo(message)
                _ = try? AddressInfo(message)
                _ = try? RouteInfo(message)
                _ = try? NeighbourInfo(message)
                _ = try? BridgePort(message)
            }
        }
        count += 1
    }
    return count
}

/// Netlink seeds: the messages nslab itself encodes. Requests and the kernel's dump replies share
/// their layout and RTM_NEW* types, so the decoders take both.
func netlinkSeeds() -> [[UInt8]] {
    let prefixes = ["10.0.0.1/24", "fd00::1/64", "192.168.0.254/32"].compactMap { IPPrefix($0) }
    var messages = [
        LinkRequest.createVeth(VethEnd(name: "a0", index: 2, mtu: 1400, mac: [2, 0, 0, 0, 0, 1]),
                               peer: VethEnd(name: "b0", index: 3), up: true),
        LinkRequest.set(index: 2, name: "a0", up: true, alias: "nslab:lab/a"),
        LinkRequest.createBridge(name: "br0", index: 4, stp: true, vlanFiltering: true),
        LinkRequest.createVLAN(name: "a0.10", index: 5, parent: 2, vlan: 10),
        BridgeVLANRequest.add(BridgeVLAN(vid: 10, pvid: true, untagged: true), index: 2, interface: "a0"),
    ]
    messages += prefixes.map { AddressRequest.add($0, index: 2, interface: "a0") }
    messages += prefixes.map {
        RouteRequest.add(RouteInfo(destination: $0.network, gateway: nil, outputIndex: 2, metric: 5), describedAs: "fuzz")
    }
    var seeds = messages.map { $0.encoded(sequence: 1) }
    seeds.append(seeds.joined().map { $0 })  // several messages in one datagram, as dumps come
    return seeds
}

let seedDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Tests/TopologyTests/Corpus")
let started = Date()
let runs: Int
switch mode {
case "topology":
    var seeds = ((try? FileManager.default.contentsOfDirectory(atPath: seedDirectory.path)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.sorted()
        .compactMap { FileManager.default.contents(atPath: seedDirectory.appendingPathComponent($0).path).map { [UInt8]($0) } }
    for example in ["examples/routers.yaml", "examples/hosts.yaml", "examples/two-namespaces.yaml", "examples/lan.yaml",
                    "examples/vlan-trunk.yaml", "examples/dual-stack-ring.yaml"] {
        let path = seedDirectory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(example).path
        if let data = FileManager.default.contents(atPath: path) { seeds.append([UInt8](data)) }
    }
    guard !seeds.isEmpty else { fatalError("no seed files under \(seedDirectory.path)") }
    runs = fuzzTopology(seeds: seeds)
case "netlink":
    runs = fuzzNetlink(seeds: netlinkSeeds())
default:
    FileHandle.standardError.write(Data("usage: nslab-fuzz topology|netlink [--seconds N] [--seed N]\n".utf8))
    exit(2)
}
unlink(crashFile)
print(String(format: "%@: %d inputs in %.0f s, no crash (seed %d)", mode, runs, Date().timeIntervalSince(started),
             option("--seed", default: 1)))
