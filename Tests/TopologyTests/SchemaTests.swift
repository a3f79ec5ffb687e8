import Foundation
import Testing
@testable import Topology

/// schema/nslab-topology.schema.json must describe what the decoder accepts, no more, no less.
@Suite struct SchemaTests {
    static let schemaURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("schema/nslab-topology.schema.json")

    private func schema() throws -> [String: Any] {
        let data = try Data(contentsOf: Self.schemaURL)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func definition(_ name: String, in schema: [String: Any]) throws -> [String: Any] {
        let definitions = try #require(schema["$defs"] as? [String: Any])
        return try #require(definitions[name] as? [String: Any], "no $defs/\(name)")
    }

    private func keys(_ object: [String: Any]) throws -> Set<String> {
        Set(try #require(object["properties"] as? [String: Any]).keys)
    }

    @Test func isDraft2020JSON() throws {
        let schema = try schema()
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema["additionalProperties"] as? Bool == false)
        #expect(schema["required"] as? [String] == ["name", "nodes"])
    }

    @Test func keysMatchTheDecoder() throws {
        let schema = try schema()
        #expect(try keys(schema) == Set(TopologyKeys.topLevel))
        #expect(try keys(definition("node", in: schema)) == Set(TopologyKeys.node))
        #expect(try keys(definition("link", in: schema)) == Set(TopologyKeys.link))
        #expect(try keys(definition("endpointMap", in: schema)) == Set(TopologyKeys.endpoint))
        #expect(try keys(definition("routeMap", in: schema)) == Set(TopologyKeys.route))
        #expect(try keys(definition("impairment", in: schema)) == Set(TopologyKeys.impairment))
        #expect(try keys(definition("flap", in: schema)) == Set(TopologyKeys.flap))
        #expect(try keys(definition("subinterfaceMap", in: schema)) == Set(TopologyKeys.subinterface))
        let routePattern = try #require(try definition("routeString", in: schema)["pattern"] as? String)
        #expect(routePattern.contains("(?:" + TopologyKeys.routeWords.joined(separator: "|") + ")"))
        for name in ["node", "link", "endpointMap", "routeMap", "subinterfaceMap"] {
            #expect(try definition(name, in: schema)["additionalProperties"] as? Bool == false, "\(name)")
        }
        let node = try definition("node", in: schema)
        let kind = try #require((node["properties"] as? [String: Any])?["kind"] as? [String: Any])
        #expect(kind["enum"] as? [String] == NodeKind.allCases.map(\.rawValue))
    }

    /// Editors show these as help, so every property has one.
    @Test func everyPropertyHasADescription() throws {
        var missing: [String] = []
        func visit(_ value: Any, path: String) {
            if let object = value as? [String: Any] {
                if let properties = object["properties"] as? [String: Any] {
                    for (key, property) in properties {
                        if (property as? [String: Any])?["description"] as? String == nil { missing.append("\(path)/\(key)") }
                    }
                }
                for (key, child) in object { visit(child, path: "\(path)/\(key)") }
            } else if let array = value as? [Any] {
                for (index, child) in array.enumerated() { visit(child, path: "\(path)/\(index)") }
            }
        }
        visit(try schema(), path: "#")
        #expect(missing.isEmpty, "no description: \(missing.sorted())")
    }

    /// The schema's name patterns agree with the decoder's rules.
    @Test func namePatternsAgreeWithTheDecoder() throws {
        let schema = try schema()
        func matcher(_ definitionName: String) throws -> (String) -> Bool {
            let definition = try definition(definitionName, in: schema)
            let pattern = try #require(definition["pattern"] as? String)
            let expression = try NSRegularExpression(pattern: pattern)
            let limit = definition["maxLength"] as? Int ?? Int.max
            return { text in
                let range = NSRange(text.startIndex..., in: text)
                return text.count <= limit && expression.firstMatch(in: text, range: range) != nil
            }
        }
        let nodeName = try matcher("nodeName")
        for sample in ["ns01", "router-1", "a.b_c", "0", String(repeating: "n", count: 63), String(repeating: "n", count: 64),
                       "-a", ".a", "a/b", "..", "a b", "r\u{430}uter", ""] {
            #expect(nodeName(sample) == (Names.nodeNameProblem(sample) == nil), "\(sample)")
        }
        let labName = try matcher("labName")
        for sample in ["routers", String(repeating: "l", count: 64), String(repeating: "l", count: 65), "my lab", "_x"] {
            #expect(labName(sample) == (Names.labNameProblem(sample) == nil), "\(sample)")
        }
        let interfaceName = try matcher("interfaceName")
        for sample in ["eth0", "ns01-veth0", "gw@1", "abcdefghijklmno", "abcdefghijklmnop", "lo", "lo0", ".", "..", "...",
                       "a/b", "a:b", "a b", "eth%d", "", "e\u{435}"] {
            #expect(interfaceName(sample) == (Names.interfaceNameProblem(sample) == nil), "\(sample.debugDescription)")
        }
    }
}
