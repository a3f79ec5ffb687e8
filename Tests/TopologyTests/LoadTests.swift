import Foundation
import Testing
@testable import Topology

/// Reading files, and reporting many problems at once in file order.
@Suite struct LoadTests {
    private func withTemporaryFile<T>(_ bytes: [UInt8], _ body: (String) throws -> T) throws -> T {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("nslab-topology-\(UUID().uuidString).yaml").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }

    private func loadError(_ path: String) -> TopologyError? {
        do {
            _ = try Topology.load(path: path)
            return nil
        } catch {
            return error
        }
    }

    @Test func loadsAFile() throws {
        let lab = try withTemporaryFile(Array(GoldenTests.seed001.utf8)) { path in
            (try Topology.load(path: path), path)
        }
        #expect(lab.0.name == "routers")
        #expect(lab.0.file == lab.1)
        #expect(lab.0.nodes.first?.location.description == "\(lab.1):3:3")
    }

    @Test func missingFile() throws {
        let error = try #require(loadError("/nonexistent/lab.yaml"))
        #expect(error.diagnostics.count == 1)
        #expect(error.diagnostics.first?.location.description == "/nonexistent/lab.yaml:1:1")
        #expect(error.diagnostics.first?.message == "cannot read topology file '/nonexistent/lab.yaml': No such file or directory")
        #expect(error.diagnostics.first?.hint?.contains("check the path") == true)
    }

    @Test func directory() throws {
        let path = FileManager.default.temporaryDirectory.path
        let error = try #require(loadError(path))
        #expect(error.diagnostics.map(\.location.description) == ["\(path):1:1"])
        #expect(error.diagnostics.first?.message.contains("cannot read topology file") == true)
        #expect(error.diagnostics.first?.message.contains("directory") == true)
    }

    @Test func invalidUTF8IsLocated() throws {
        let bytes = Array("name: x\nnodes:\n  ns".utf8) + [0xff] + Array(":\n".utf8)
        let error = try #require(try withTemporaryFile(bytes) { loadError($0) })
        #expect(error.diagnostics.count == 1)
        #expect(error.diagnostics.first?.location.line == 3)
        #expect(error.diagnostics.first?.location.column == 5)
        #expect(error.diagnostics.first?.message == "topology file is not valid UTF-8")
    }

    @Test func manyProblemsAreAllReportedInFileOrder() {
        let found = diagnostics("""
            name: "bad name"
            nodes:
              ns01: { kind: switch }
              ns02:
                ruotes: []
            links:
              - endpoints: [ns01:lo, ns03]
                addresses: [10.0.0.1/33, 10.0.0.2/24]
              - endpoints: [ns01, ns02]
                mtu: 20
            """)
        #expect(found.map(\.location.description) == [
            "lab.yaml:1:7", "lab.yaml:3:17", "lab.yaml:5:5", "lab.yaml:7:22", "lab.yaml:7:26", "lab.yaml:8:17", "lab.yaml:10:10",
        ])
        #expect(found.map(\.message) == [
            "lab name 'bad name' contains whitespace",
            "unknown node kind 'switch' for node 'ns01'",
            "unknown key 'ruotes' in node 'ns02'",
            "interface name 'lo' is taken: every namespace has its own loopback 'lo'",
            "unknown node 'ns03' in link endpoint",
            "prefix length 33 is out of range for IPv4 (0 to 32)",
            "'mtu' 20 is out of range (68 to 65535)",
        ])
    }

    @Test func errorDescriptionIsCompilerStyle() throws {
        let error = try #require(loadError("/nonexistent/lab.yaml"))
        #expect("\(error)" == """
            /nonexistent/lab.yaml:1:1: error: cannot read topology file '/nonexistent/lab.yaml': No such file or directory
                hint: check the path; it is relative to the current directory
            """)
    }
}

@Suite struct SuggestTests {
    @Test func distance() {
        #expect(Suggest.distance("routes", "routes") == 0)
        #expect(Suggest.distance("ruotes", "routes") == 1)
        #expect(Suggest.distance("route", "routes") == 1)
        #expect(Suggest.distance("", "abc") == 3)
        #expect(Suggest.distance("kitten", "sitting") == 3)
    }

    @Test func closest() {
        #expect(Suggest.closest(to: "Nodes", among: TopologyKeys.topLevel) == "nodes")
        #expect(Suggest.closest(to: "endpoint", among: TopologyKeys.link) == "endpoints")
        #expect(Suggest.closest(to: "foo", among: TopologyKeys.link) == nil)
        #expect(Suggest.closest(to: "router1", among: ["router01", "router02", "ns01"]) == "router01")
    }
}
