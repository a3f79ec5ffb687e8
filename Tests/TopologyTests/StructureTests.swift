import Testing
@testable import Topology

/// YAML syntax, the shape of the file, keys and value types, and names.
@Suite struct StructureTests {
    // MARK: YAML itself

    @Test func emptyFile() {
        expectOnly("", "lab.yaml:1:1", "the file is empty", hint: "'name' and 'nodes'")
        expectOnly("# only a comment\n", "lab.yaml:1:1", "the file is empty")
    }

    @Test func tabIndentationIsASyntaxErrorWithHint() {
        expectOnly("name: x\nnodes:\n\ta: {}\n", "lab.yaml:3:1", "invalid YAML: found character that cannot start any token",
                   hint: "spaces, not tabs")
    }

    @Test func unclosedFlowMapping() {
        let found = expectOnly("""
            name: x
            nodes:
              a: { kind: router
            """, "lab.yaml:4:1", "invalid YAML")
        #expect(found?.message.contains("line 3, column 6") == true)
    }

    @Test func secondDocument() {
        expectOnly("name: x\nnodes: { a: }\n---\nname: y\n", "lab.yaml:3:1",
                   "invalid YAML: expected a single document in the stream, but found another document")
    }

    @Test func controlCharacter() {
        expectOnly("name: x\nnodes: { a\u{7}: }\n", "lab.yaml:2:11", "control characters are not allowed")
    }

    // MARK: shape

    @Test func topLevelMustBeAMapping() {
        expectOnly("- name: x\n", "lab.yaml:1:1", "the top level must be a mapping with 'name', 'nodes' and 'links', found a list")
    }

    @Test func missingRequiredKeys() {
        let found = diagnostics("prefix: p-\n")
        #expect(found.map(\.description) == [
            "lab.yaml:1:1: error: missing required key 'name'\n    hint: add a line such as `name: mylab` at the top level; the lab is destroyed by that name",
            "lab.yaml:1:1: error: missing required key 'nodes'\n    hint: add `nodes:` with one `NAME:` line per namespace, e.g. `nodes: { ns1: {}, ns2: {} }`",
        ])
    }

    @Test func nodesMustNotBeEmpty() {
        expectOnly("name: x\nnodes:\n", "lab.yaml:2:1", "'nodes' is empty: a lab needs at least one node")
        expectOnly("name: x\nnodes: {}\n", "lab.yaml:2:8", "'nodes' is empty")
    }

    @Test func nodesAsAList() {
        expectOnly("""
            name: x
            nodes:
              - ns1
              - ns2
            """, "lab.yaml:3:3", "'nodes' must be a mapping from node names to their settings, found a list",
            hint: "write `nodes: { ns1: {}, ns2: {} }`")
    }

    @Test func unknownTopLevelKey() {
        expectOnly("name: x\nnodes: { a: }\nlnks: []\n", "lab.yaml:3:1", "unknown key 'lnks' in the top level",
                   hint: "did you mean 'links'?")
    }

    @Test func unknownKeyWithoutCloseMatchListsTheAllowedOnes() {
        expectOnly("name: x\nnodes: { a: }\ncolour: red\n", "lab.yaml:3:1", "unknown key 'colour'",
                   hint: "the keys allowed here are name, prefix, nodes, links")
    }

    @Test func unknownNodeKey() {
        expectOnly("""
            name: x
            nodes:
              r1:
                kind: router
                ruotes: []
            """, "lab.yaml:5:5", "unknown key 'ruotes' in node 'r1'", hint: "did you mean 'routes'?")
    }

    @Test func unknownLinkKey() {
        expectOnly("""
            name: x
            nodes: { a: , b: }
            links:
              - endpoint: [a, b]
            """, "lab.yaml:4:5", "unknown key 'endpoint' in a link", hint: "did you mean 'endpoints'?")
    }

    @Test func unknownEndpointKey() {
        let found = diagnostics("""
            name: x
            nodes: { a: , b: }
            links:
              - endpoints: [{ node: a, interfce: e0 }, b]
            """)
        #expect(found.count == 1)
        #expect(found.first?.location.description == "lab.yaml:4:28")
        #expect(found.first?.message == "unknown key 'interfce' in an endpoint")
        #expect(found.first?.hint == "did you mean 'interface'?")
    }

    @Test func unknownRouteKey() {
        expectOnly("""
            name: x
            nodes:
              a: { routes: [{ to: default, vai: 10.0.0.1 }] }
            """, "lab.yaml:3:32", "unknown key 'vai' in a route", hint: "did you mean 'via'?")
    }

    @Test func kindOfWrongType() {
        expectOnly("name: x\nnodes:\n  a: { kind: 3 }\n", "lab.yaml:3:14", "'kind' must be 'host', 'router' or 'bridge', found the number 3")
    }

    @Test func unknownKind() {
        expectOnly("name: x\nnodes:\n  a: { kind: ruoter }\n", "lab.yaml:3:14", "unknown node kind 'ruoter' for node 'a'",
                   hint: "did you mean 'router'?")
    }

    @Test func mtuOfWrongType() {
        expectOnly("""
            name: x
            nodes: { a: , b: }
            links:
              - { endpoints: [a, b], mtu: abc }
            """, "lab.yaml:4:31", "'mtu' must be a whole number from 68 to 65535, found 'abc'")
        expectOnly("""
            name: x
            nodes: { a: , b: }
            links:
              - { endpoints: [a, b], mtu: [1500] }
            """, "lab.yaml:4:31", "'mtu' must be a whole number from 68 to 65535, found a list")
    }

    @Test func nodeValueOfWrongType() {
        expectOnly("name: x\nnodes:\n  r1: router\n", "lab.yaml:3:7",
                   "node 'r1' must be a mapping with 'kind', 'routes', 'files' or 'commands', or empty, found the string 'router'",
                   hint: "`r1: { kind: router")
    }

    @Test func routesOfWrongType() {
        expectOnly("name: x\nnodes:\n  a: { routes: default via 10.0.0.1 }\n", "lab.yaml:3:16",
                   "'routes' must be a list of routes, found the string 'default via 10.0.0.1'")
    }

    @Test func linksOfWrongType() {
        expectOnly("name: x\nnodes: { a: }\nlinks: { a: b }\n", "lab.yaml:3:8", "'links' must be a list of links, found a mapping")
    }

    // MARK: names

    @Test func labName() {
        expectOnly("name: my lab\nnodes: { a: }\n", "lab.yaml:1:7", "lab name 'my lab' contains whitespace")
        expectOnly("name: -x\nnodes: { a: }\n", "lab.yaml:1:7", "lab name '-x' must start with a letter or digit")
        let long = String(repeating: "l", count: 65)
        expectOnly("name: \(long)\nnodes: { a: }\n", "lab.yaml:1:7", "is 65 characters long, more than 64")
        #expect(diagnostics("name: \(String(repeating: "l", count: 64))\nnodes: { a: }\n").isEmpty)
    }

    @Test func nodeNameWithSlash() {
        expectOnly("name: x\nnodes:\n  a/b: {}\n", "lab.yaml:3:3", "node name 'a/b' contains '/'", hint: "/run/netns")
    }

    @Test func nodeNameDotDot() {
        expectOnly("name: x\nnodes:\n  ..: {}\n", "lab.yaml:3:3", "node name '..' is not usable")
    }

    @Test func nodeNameWithNul() {
        expectOnly("name: x\nnodes:\n  \"ns\\0x\": {}\n", "lab.yaml:3:3", "node name 'ns\\0x' contains a NUL character")
    }

    @Test func nodeNameWithSpace() {
        expectOnly("name: x\nnodes:\n  \"ns 1\": {}\n", "lab.yaml:3:3", "node name 'ns 1' contains whitespace")
    }

    @Test func nodeNameLookAlike() {
        // The second letter is CYRILLIC SMALL LETTER A, not "a".
        expectOnly("name: x\nnodes:\n  r\u{430}uter: {}\n", "lab.yaml:3:3",
                   "node name 'r\u{430}uter' contains the non-ASCII character '\u{430}' (U+0430 CYRILLIC SMALL LETTER A)",
                   hint: "look-alike")
    }

    @Test func nodeNameTooLong() {
        let name = String(repeating: "n", count: 64)
        expectOnly("name: x\nnodes:\n  \(name): {}\n", "lab.yaml:3:3", "is 64 characters long, more than 63")
        #expect(diagnostics("name: x\nnodes:\n  \(name.dropLast()): {}\n").isEmpty)
    }

    @Test func prefix() {
        expectOnly("name: x\nprefix: lab/\nnodes: { a: }\n", "lab.yaml:2:9", "prefix 'lab/' contains '/'")
        let prefix = String(repeating: "p", count: 200)
        let node = String(repeating: "n", count: 60)
        expectOnly("name: x\nprefix: \(prefix)\nnodes:\n  ok:\n  \(node):\n", "lab.yaml:5:3",
                   "prefix + node name) is 260 bytes, more than 255")
    }

    @Test func duplicateNode() {
        let found = expectOnly("""
            name: x
            nodes:
              a: {}
              b: {}
              a: { kind: router }
            """, "lab.yaml:5:3", "duplicate key 'a' in 'nodes'")
        #expect(found?.hint == "the first is at lab.yaml:3:3; remove or rename one")
    }

    /// Yams refuses duplicate keys outright; the rest of the file must still be checked, and
    /// every further copy of the key reported where it is.
    @Test func duplicatesDoNotHideOtherProblems() {
        let found = diagnostics("""
            name: x
            nodes:
              a: {}
              "a": {}
              b: { kind: switch, kind: router }
              a:
            links:
              - endpoints: [a, c]
            """)
        #expect(found.map(\.location.description) == ["lab.yaml:4:3", "lab.yaml:5:14", "lab.yaml:5:22", "lab.yaml:6:3", "lab.yaml:8:20"])
        #expect(found.map(\.message) == [
            "duplicate key 'a' in 'nodes'",
            "unknown node kind 'switch' for node 'b'",
            "duplicate key 'kind' in node 'b'",
            "duplicate key 'a' in 'nodes'",
            "unknown node 'c' in link endpoint",
        ])
    }
}
