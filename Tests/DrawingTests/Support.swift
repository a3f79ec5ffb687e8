import Foundation
@testable import Drawing
import NetAddress
import Topology

/// The repository's examples/ directory.
let examplesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("examples")

/// Every examples/*.yaml, by file name, decoded with the relative path as its file name (so
/// that titles do not depend on where the repository is checked out).
let examples: [(name: String, topology: Topology)] = {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: examplesDirectory.path)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.sorted()
    return names.compactMap { name in
        guard let text = try? String(contentsOf: examplesDirectory.appendingPathComponent(name), encoding: .utf8),
              let topology = try? Topology.parse(yaml: text, file: "examples/\(name)") else { return nil }
        return (name, topology)
    }
}()

func example(_ name: String) -> Topology? { examples.first { $0.name == name }?.topology }

let here = SourceLocation(file: "inline.yaml", line: 1, column: 1)

/// A lab written directly as a model, so that names the topology file would refuse can be tried.
func lab(_ nodes: [(String, NodeKind)], _ links: [(String, String, [String], [String])], name: String = "inline") -> Topology {
    Topology(name: name, nodes: nodes.map { Node(name: $0.0, kind: $0.1, location: here) },
             links: links.map { link in
                 let ends = [link.0, link.1].map { $0.split(separator: ":", maxSplits: 1).map(String.init) }
                 return Link(endpoints: [
                     Endpoint(node: ends[0][0], interface: ends[0][1], addresses: link.2.compactMap(IPPrefix.init), location: here),
                     Endpoint(node: ends[1][0], interface: ends[1][1], addresses: link.3.compactMap(IPPrefix.init), location: here),
                 ], location: here)
             }, file: "inline.yaml")
}

/// The widest line of a text, in characters.
func widest(_ text: String) -> Int {
    text.split(separator: "\n", omittingEmptySubsequences: false).map(\.count).max() ?? 0
}

import TestSupport

let graphvizInstalled = sh("command -v dot").status == 0

/// SVG from Graphviz's dot for this DOT text, or nil if dot failed.
func runDot(_ dot: String) -> String? {
    let path = "/tmp/nslab-drawing-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).dot"
    defer { try? FileManager.default.removeItem(atPath: path) }
    guard FileManager.default.createFile(atPath: path, contents: Data(dot.utf8)) else { return nil }
    let result = sh("dot -Tsvg \(path) 2>/dev/null")
    return result.status == 0 ? result.output : nil
}
