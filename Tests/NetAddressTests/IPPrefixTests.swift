import NetAddress
import Testing

private func p(_ text: String) -> IPPrefix {
    guard let prefix = IPPrefix(text) else { fatalError("bad test prefix \(text)") }
    return prefix
}

private func a(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad test address \(text)") }
    return address
}

@Suite("IPPrefix")
struct IPPrefixTests {
    @Test func parsesAddressAndLength() throws {
        let prefix = try #require(IPPrefix("10.0.0.1/24"))
        #expect(prefix.address == a("10.0.0.1"), "host bits are kept")
        #expect(prefix.length == 24)
        #expect(prefix.family == .ipv4)
        #expect(prefix.description == "10.0.0.1/24")
        #expect(prefix.hasHostBits)
        #expect(prefix.network == p("10.0.0.0/24"))
        #expect(!p("10.0.0.0/24").hasHostBits)

        let v6 = try #require(IPPrefix("FD00:0::1/64"))
        #expect(v6.description == "fd00::1/64")
        #expect(v6.network.description == "fd00::/64")
        #expect(v6.family == .ipv6)
    }

    @Test func bareAddressIsAHostPrefix() {
        #expect(IPPrefix("192.168.1.1")?.length == 32)
        #expect(IPPrefix("192.168.1.1")?.description == "192.168.1.1/32")
        #expect(IPPrefix("fe80::1")?.length == 128)
    }

    @Test func edgeLengthsAccepted() {
        #expect(IPPrefix("0.0.0.0/0")?.length == 0)
        #expect(IPPrefix("1.2.3.4/32")?.length == 32)
        #expect(IPPrefix("::/0")?.length == 0)
        #expect(IPPrefix("::1/128")?.length == 128)
        #expect(IPPrefix(address: a("1.2.3.4"), length: 32) != nil)
        #expect(IPPrefix(address: a("::"), length: 128) != nil)
    }

    @Test(arguments: [
        "10.0.0.1/33", "fd00::/129", "/", "/24", "10.0.0.1/", "10.0.0.1/-1", "10.0.0.1/+8", "10.0.0.1/2 4",
        "10.0.0.1/24/8", "10.0.0.1/1000", "10.0.0.1/0x10", "", "10.0.0/24", "10.0.0.1 /24", "fd00::/6a",
        "10.0.0.1/٢٤",
    ])
    func rejects(text: String) {
        #expect(IPPrefix(text) == nil, "\(text) must be refused")
    }

    @Test func initializerRefusesBadLengths() {
        #expect(IPPrefix(address: a("1.2.3.4"), length: 33) == nil)
        #expect(IPPrefix(address: a("1.2.3.4"), length: -1) == nil)
        #expect(IPPrefix(address: a("::1"), length: 129) == nil)
    }

    @Test func containsAddresses() {
        let net = p("192.168.0.0/24")
        #expect(net.contains(a("192.168.0.0")))
        #expect(net.contains(a("192.168.0.255")))
        #expect(!net.contains(a("192.168.1.0")))
        #expect(!net.contains(a("192.167.255.255")))
        #expect(p("192.168.0.77/24").contains(a("192.168.0.1")), "host bits of the prefix do not matter")
        #expect(p("0.0.0.0/0").contains(a("203.0.113.9")))
        #expect(!p("0.0.0.0/0").contains(a("::1")), "families never mix")
        #expect(!p("::/0").contains(a("1.2.3.4")))
        #expect(p("10.0.0.1/32").contains(a("10.0.0.1")))
        #expect(!p("10.0.0.1/32").contains(a("10.0.0.2")))
        #expect(p("fd00::/64").contains(a("fd00::ffff:ffff:ffff:ffff")))
        #expect(!p("fd00::/64").contains(a("fd00:0:0:1::")))
        #expect(p("fd00::/127").contains(a("fd00::1")))
        #expect(!p("fd00::/127").contains(a("fd00::2")))
    }

    @Test func containsAndOverlapsPrefixes() {
        #expect(p("10.0.0.0/8").contains(p("10.1.0.0/16")))
        #expect(!p("10.1.0.0/16").contains(p("10.0.0.0/8")), "a longer prefix cannot contain a shorter one")
        #expect(p("10.0.0.0/8").contains(p("10.0.0.0/8")))
        #expect(!p("10.0.0.0/8").contains(p("11.0.0.0/16")))
        #expect(p("10.0.0.0/8").overlaps(p("10.1.0.0/16")))
        #expect(p("10.1.0.0/16").overlaps(p("10.0.0.0/8")), "overlap is symmetric")
        #expect(!p("10.0.0.0/24").overlaps(p("10.0.1.0/24")))
        #expect(p("10.0.0.0/23").overlaps(p("10.0.1.0/24")))
        #expect(p("0.0.0.0/0").overlaps(p("192.0.2.0/24")))
        #expect(!p("0.0.0.0/0").overlaps(p("::/0")))
        #expect(p("fd00::/48").overlaps(p("fd00:0:0:5::/64")))
        #expect(!p("fd00::/64").overlaps(p("fd00:0:0:1::/64")))
    }

    @Test func maskedV4() {
        let x = a("255.255.255.255")
        #expect(x.masked(to: 0) == a("0.0.0.0"))
        #expect(x.masked(to: 1) == a("128.0.0.0"))
        #expect(x.masked(to: 31) == a("255.255.255.254"))
        #expect(x.masked(to: 32) == x)
        #expect(a("10.1.2.3").masked(to: 24) == a("10.1.2.0"))
        #expect(a("10.1.2.3").masked(to: 20) == a("10.1.0.0"))
    }

    @Test func maskedV6() {
        let x = a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
        #expect(x.masked(to: 0) == a("::"))
        #expect(x.masked(to: 1) == a("8000::"))
        #expect(x.masked(to: 63) == a("ffff:ffff:ffff:fffe::"))
        #expect(x.masked(to: 64) == a("ffff:ffff:ffff:ffff::"))
        #expect(x.masked(to: 65) == a("ffff:ffff:ffff:ffff:8000::"))
        #expect(x.masked(to: 127) == a("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"))
        #expect(x.masked(to: 128) == x)
        #expect(a("2001:db8:1:2:3:4:5:6").masked(to: 48) == a("2001:db8:1::"))
        #expect(a("2001:db8:1:2:3:4:5:6").masked(to: 96) == a("2001:db8:1:2:3:4::"))
    }

    @Test func networkAtEdges() {
        #expect(p("203.0.113.77/0").network == p("0.0.0.0/0"))
        #expect(p("203.0.113.77/32").network == p("203.0.113.77/32"))
        #expect(p("fd00::1/128").network == p("fd00::1/128"))
        #expect(p("fd00::1/127").network == p("fd00::/127"))
        #expect(p("fd00::1:0:0:1/64").network.description == "fd00::/64")
        #expect(p("203.0.113.77/25").network.length == 25)
    }

    @Test func bytesRoundTripThroughPrefixes() throws {
        for text in ["10.0.0.1/24", "0.0.0.0/0", "fd00::1/64", "::/0", "2001:db8::/32"] {
            let prefix = p(text)
            let address = try #require(IPAddress(bytes: prefix.address.bytes))
            #expect(IPPrefix(address: address, length: prefix.length) == prefix)
            #expect(IPPrefix(prefix.description) == prefix, "description parses back: \(text)")
        }
    }

    @Test func ordering() {
        let sorted = [p("10.0.0.0/24"), p("10.0.0.0/8"), p("9.0.0.0/8"), p("::/0")].sorted()
        #expect(sorted == [p("9.0.0.0/8"), p("10.0.0.0/8"), p("10.0.0.0/24"), p("::/0")])
    }

    @Test func parentAndSibling() {
        #expect(p("10.0.0.4/30").parent == p("10.0.0.0/29"))
        #expect(p("10.0.0.4/30").sibling == p("10.0.0.0/30"))
        #expect(p("10.0.0.0/30").sibling == p("10.0.0.4/30"))
        #expect(p("10.0.0.5/30").sibling == p("10.0.0.0/30"), "host bits are dropped")
        #expect(p("10.0.0.0/8").sibling == p("11.0.0.0/8"))
        #expect(p("128.0.0.0/1").sibling == p("0.0.0.0/1") && p("128.0.0.0/1").parent == p("0.0.0.0/0"))
        #expect(p("0.0.0.0/0").parent == nil && p("0.0.0.0/0").sibling == nil)
        #expect(p("fd00::1:0/112").sibling == p("fd00::/112"))
        #expect(p("fd00::/64").sibling == p("fd00:0:0:1::/64"))
        #expect(p("fd00::1/128").sibling == p("fd00::/128") && p("fd00::1/128").parent == p("fd00::/127"))
    }
}
