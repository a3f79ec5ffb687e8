import Testing
@testable import Topology

/// Links, endpoints, interface names, addresses, MTU and MAC.
@Suite struct LinkTests {
    /// Two nodes a and b, then `links:` followed by `link` (line 4 onwards).
    static func lab(_ link: String) -> String {
        "name: x\nnodes: { a: , b: , c: }\nlinks:\n" + link + "\n"
    }

    // MARK: endpoints

    @Test func unknownNodeInEndpoint() {
        expectOnly(Self.lab("  - endpoints: [a:e0, bb:e0]"), "lab.yaml:4:23", "unknown node 'bb' in link endpoint",
                   hint: "did you mean 'b'?")
        expectOnly(Self.lab("  - endpoints: [a:e0, { node: zebra }]"), "lab.yaml:4:31", "unknown node 'zebra'",
                   hint: "declare it under 'nodes' (nodes: a, b, c)")
    }

    @Test func exactlyTwoEndpoints() {
        expectOnly(Self.lab("  - endpoints: [a, b, c]"), "lab.yaml:4:16", "a link has exactly 2 endpoints, found 3")
        expectOnly(Self.lab("  - endpoints: [a]"), "lab.yaml:4:16", "a link has exactly 2 endpoints, found 1")
    }

    @Test func missingEndpoints() {
        expectOnly(Self.lab("  - mtu: 1500"), "lab.yaml:4:5", "the link is missing required key 'endpoints'")
    }

    @Test func endpointOfWrongType() {
        expectOnly(Self.lab("  - endpoints: [a, 42]"), "lab.yaml:4:20", "unknown node '42'")
        expectOnly(Self.lab("  - endpoints: [a, [b]]"), "lab.yaml:4:20",
                   "an endpoint must be \"node:interface\", \"node\" or a mapping, found a list")
        expectOnly(Self.lab("  - endpoints: [a, \":e0\"]"), "lab.yaml:4:20", "endpoint ':e0' has no node name")
        expectOnly(Self.lab("  - endpoints: [a, { interface: e0 }]"), "lab.yaml:4:20",
                   "the endpoint is missing required key 'node'")
    }

    // MARK: interface names

    @Test func interfaceNameTooLong() {
        expectOnly(Self.lab("  - endpoints: [a:abcdefghijklmnop, b]"), "lab.yaml:4:19",
                   "interface name 'abcdefghijklmnop' is 16 bytes long, more than the kernel's 15")
        #expect(diagnostics(Self.lab("  - endpoints: [a:abcdefghijklmno, b]")).isEmpty)
    }

    @Test func interfaceNameWithColonSplitsAtTheFirst() {
        expectOnly(Self.lab("  - endpoints: [a:e:0, b]"), "lab.yaml:4:19", "interface name 'e:0' contains ':'")
    }

    @Test func interfaceNameForbiddenCharacters() {
        expectOnly(Self.lab("  - endpoints: [a:e/0, b]"), "lab.yaml:4:19", "interface name 'e/0' contains '/'")
        expectOnly(Self.lab("  - endpoints: [a:e 0, b]"), "lab.yaml:4:19", "interface name 'e 0' contains whitespace")
        expectOnly(Self.lab("  - endpoints: [a:., b]"), "lab.yaml:4:19", "interface name '.' is not allowed")
        expectOnly(Self.lab("  - endpoints: [a:lo, b]"), "lab.yaml:4:19", "interface name 'lo' is taken")
        expectOnly(Self.lab("  - endpoints: [a:\u{435}th0, b]"), "lab.yaml:4:19",
                   "contains the non-ASCII character '\u{435}' (U+0435 CYRILLIC SMALL LETTER IE)")
        expectOnly(Self.lab("  - endpoints: [a:eth%d, b]"), "lab.yaml:4:19", "interface name 'eth%d' contains '%'")
        expectOnly(Self.lab("  - endpoints: [\"a:\", b]"), "lab.yaml:4:20", "interface name is empty")
        expectOnly(Self.lab("  - endpoints: [{ node: a, interface: \"\" }, b]"), "lab.yaml:4:39", "interface name is empty")
    }

    @Test func interfaceUsedTwiceOnANode() {
        let found = expectOnly("""
            name: x
            nodes: { a: , b: , c: }
            links:
              - endpoints: [a:e0, b:e0]
              - endpoints: [c:e0, "a:e0"]
            """, "lab.yaml:5:26", "interface 'e0' is used twice on node 'a'; the first is at lab.yaml:4:19")
        #expect(found?.hint?.contains("its own interface name") == true)
    }

    @Test func sameInterfaceOnBothEndsOfASelfLink() {
        expectOnly(Self.lab("  - endpoints: [a:e0, { node: a, interface: e0 }]"), "lab.yaml:4:45",
                   "interface 'e0' is used twice on node 'a'")
    }

    @Test func automaticNamesSkipExplicitOnes() throws {
        let lab = try #require(decode("""
            name: x
            nodes: { a: , b: , c: }
            links:
              - endpoints: [a, b]
              - endpoints: [a, c:eth0]
              - endpoints: [a:eth1, b]
              - endpoints: [c, c]
            """))
        #expect(lab.links.flatMap(\.endpoints).map(\.id) == ["a:eth0", "b:eth0", "a:eth2", "c:eth0", "a:eth1", "b:eth1", "c:eth1", "c:eth2"])
    }

    // MARK: addresses

    @Test func addressCountMustMatchEndpoints() {
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [10.0.0.1/24]"), "lab.yaml:5:16",
                   "'addresses' has 1 item but the link has 2 endpoints", hint: "write ~ (null)")
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: 10.0.0.1/24"), "lab.yaml:5:16",
                   "'addresses' must be a list with one item per endpoint, found the string '10.0.0.1/24'")
    }

    @Test func addressItemsMayBeNullOrLists() throws {
        let lab = try #require(decode(Self.lab("  - endpoints: [a, b]\n    addresses: [~, [10.0.0.2/24, \"fd00::2/64\"]]")))
        #expect(lab.links[0].endpoints[0].addresses.isEmpty)
        #expect(lab.links[0].endpoints[1].addresses.map(\.description) == ["10.0.0.2/24", "fd00::2/64"])
    }

    @Test func malformedAddresses() {
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [192.168.0.300/24, 192.168.0.2/24]"), "lab.yaml:5:17",
                   "'192.168.0.300' is not a valid IPv4 address: 300 is greater than 255")
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [10.0.0.1/33, 10.0.0.2/24]"), "lab.yaml:5:17",
                   "prefix length 33 is out of range for IPv4 (0 to 32)")
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [\"fe80::zz/64\", ~]"), "lab.yaml:5:17",
                   "'fe80::zz' is not a valid IPv6 address: 'zz' is not 1 to 4 hexadecimal digits")
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [10.0.0.1, ~]"), "lab.yaml:5:17",
                   "address 10.0.0.1 has no prefix length", hint: "write 10.0.0.1/24")
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [10.0.1/24, ~]"), "lab.yaml:5:17",
                   "'10.0.1' is not a valid IPv4 address: it has 3 parts, not 4")
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [10.0.0.1/x, ~]"), "lab.yaml:5:17",
                   "prefix length 'x' in '10.0.0.1/x' is not a number")
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [{ ip: 10.0.0.1/24 }, ~]"), "lab.yaml:5:17",
                   "an interface's addresses must be a string or a list of strings, found a mapping")
    }

    @Test func duplicateAddressAnywhereInTheLab() {
        expectOnly("""
            name: x
            nodes: { a: , b: , c: }
            links:
              - endpoints: [a, b]
                addresses: [10.0.0.1/24, 10.0.0.2/24]
              - endpoints:
                  - { node: c, addresses: [10.1.0.1/24, 10.0.0.1/16] }
                  - a
            """, "lab.yaml:7:45", "address 10.0.0.1 is already used by a:eth0 at lab.yaml:5:17")
    }

    @Test func networkAndBroadcastAddresses() {
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [192.168.0.0/24, 192.168.0.2/24]"), "lab.yaml:5:17",
                   "192.168.0.0/24 is the network address of 192.168.0.0/24", hint: "such as 192.168.0.1/24")
        expectOnly(Self.lab("  - endpoints: [a, b]\n    addresses: [192.168.0.1/24, 192.168.0.255/24]"), "lab.yaml:5:33",
                   "192.168.0.255/24 is the broadcast address of 192.168.0.0/24", hint: "such as 192.168.0.254/24")
        // Point-to-point /31 uses both addresses (RFC 3021).
        #expect(diagnostics(Self.lab("  - endpoints: [a, b]\n    addresses: [10.0.0.0/31, 10.0.0.1/31]")).isEmpty)
    }

    @Test func addressesGivenTwice() {
        expectOnly(Self.lab("  - endpoints: [{ node: a, addresses: 10.0.0.1/24 }, b]\n    addresses: [10.0.0.3/24, 10.0.0.2/24]"),
                   "lab.yaml:5:17", "addresses for endpoint 1 are given twice, here and in the endpoint at lab.yaml:4:39")
    }

    // MARK: MTU and MAC

    @Test func mtuRange() {
        expectOnly(Self.lab("  - { endpoints: [a, b], mtu: 67 }"), "lab.yaml:4:31", "'mtu' 67 is out of range (68 to 65535)")
        expectOnly(Self.lab("  - endpoints: [a, { node: b, mtu: 65536 }]"), "lab.yaml:4:36", "'mtu' 65536 is out of range")
        expectOnly(Self.lab("  - { endpoints: [a, b], mtu: -1 }"), "lab.yaml:4:31", "found '-1'")
    }

    @Test func endpointMTUWinsOverLinkMTU() throws {
        let lab = try #require(decode(Self.lab("  - { endpoints: [a, { node: b, mtu: 9000 }], mtu: 1400 }")))
        #expect(lab.links[0].endpoints.map(\.mtu) == [1400, 9000])
    }

    @Test func mac() {
        expectOnly(Self.lab("  - endpoints: [a, { node: b, mac: \"02:00:00:00:01\" }]"), "lab.yaml:4:36",
                   "MAC address '02:00:00:00:01' is not six pairs of hex digits")
        expectOnly(Self.lab("  - endpoints: [a, { node: b, mac: \"01:00:5e:00:00:01\" }]"), "lab.yaml:4:36",
                   "MAC address '01:00:5e:00:00:01' is a multicast address")
        expectOnly(Self.lab("  - endpoints: [a, { node: b, mac: \"00:00:00:00:00:00\" }]"), "lab.yaml:4:36",
                   "MAC address '00:00:00:00:00:00' is all zero")
    }

    @Test func unquotedMACIsReadAsWritten() throws {
        // YAML 1.1 would read 12:34:56 as a sexagesimal number; the text as written counts.
        let lab = try #require(decode(Self.lab("  - endpoints: [a, { node: b, mac: 12:34:56:07:08:0a }]")))
        #expect(lab.links[0].endpoints[1].mac == [0x12, 0x34, 0x56, 0x07, 0x08, 0x0a])
    }
}
