import NetAddress
import Testing

@Suite("IPAddress")
struct IPAddressTests {
    @Test(arguments: [
        ("0.0.0.0", UInt32(0)),
        ("127.0.0.1", 0x7f00_0001),
        ("192.168.0.254", 0xc0a8_00fe),
        ("255.255.255.255", 0xffff_ffff),
        ("10.0.0.10", 0x0a00_000a),
    ])
    func parsesAndPrintsIPv4(text: String, value: UInt32) throws {
        let a = try #require(IPAddress(text))
        #expect(a == .v4(value))
        #expect(a.family == .ipv4)
        #expect(a.description == text)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "256.0.0.1", "1.2.3.-4", "1..2.3", "1.2.3.4.", "1.2.3.1000",
        ".1.2.3", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "1.2.3.4/24", "0x1.2.3.4", "1234.1.1.1", "+1.2.3.4",
        "١.٢.٣.٤",
    ])
    func rejectsBadIPv4(text: String) {
        #expect(IPAddress(text) == nil, "\(text) must be refused")
    }

    @Test(arguments: [
        // input, RFC 5952 output
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("fe80::1", "fe80::1"),
        ("FE80::ABCD", "fe80::abcd"),
        ("fe80:0000:0000:0000:0000:0000:0000:0001", "fe80::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),           // first of two equal runs
        ("2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0"),             // the longer (earlier) run
        ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),             // longest run, not the first
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),        // a single zero group is not "::"
        ("2001:0db8:0001:0000:0000:0000:0000:0001", "2001:db8:1::1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("fd00::", "fd00::"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),                // v4-mapped prints dotted
        ("0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"),
        ("::ffff:0:0", "::ffff:0.0.0.0"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("0:0:0:0:0:0:1.2.3.4", "::102:304"),
    ])
    func parsesAndPrintsIPv6(text: String, canonical: String) throws {
        let a = try #require(IPAddress(text), "\(text) must parse")
        #expect(a.family == .ipv6)
        #expect(a.description == canonical)
        #expect(IPAddress(canonical) == a, "the canonical form parses back")
    }

    @Test func ipv6Values() {
        #expect(IPAddress("::") == .v6(0, 0))
        #expect(IPAddress("::1") == .v6(0, 1))
        #expect(IPAddress("fe80::1") == .v6(0xfe80_0000_0000_0000, 1))
        #expect(IPAddress("::ffff:1.2.3.4") == .v6(0, 0x0000_ffff_0102_0304))
        #expect(IPAddress("1:2:3:4:5:6:7:8") == .v6(0x0001_0002_0003_0004, 0x0005_0006_0007_0008))
    }

    @Test(arguments: [
        ":", ":::", "1:::2", "::1::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8", "12345::", "g::1", ":1::2", "1::2:", "1:2:3:4:5:6:7:", "fe80::1%eth0",
        "::1.2.3", "::1.2.3.4.5", "1.2.3.4::", "::1.2.3.4:5", "::01.2.3.4", "1:2:3:4:5:6:7:1.2.3.4",
        "[::1]", "::ffff:256.1.1.1", " ::1", "fd00::/64",
    ])
    func rejectsBadIPv6(text: String) {
        #expect(IPAddress(text) == nil, "\(text) must be refused")
    }

    @Test func bytesRoundTrip() throws {
        #expect(IPAddress("192.168.0.1")?.bytes == [192, 168, 0, 1])
        #expect(IPAddress("fd00::1:2")?.bytes == [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2])
        for text in ["0.0.0.0", "10.20.30.40", "255.255.255.255", "::", "::1", "2001:db8::ff00:42:8329",
                     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:10.0.0.1"] {
            let a = try #require(IPAddress(text))
            #expect(IPAddress(bytes: a.bytes) == a, "\(text)")
            #expect(IPAddress(bytes: a.bytes[...]) == a, "from a slice: \(text)")
        }
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress(bytes: [UInt8](repeating: 0, count: 5)) == nil)
        #expect(IPAddress(bytes: [UInt8](repeating: 0, count: 15)) == nil)
        #expect(IPAddress(bytes: [UInt8]()) == nil)
    }

    @Test func bytesFromASliceWithOffset() {
        let buffer: [UInt8] = [9, 9, 10, 0, 0, 1, 9]
        #expect(IPAddress(bytes: buffer[2..<6]) == IPAddress("10.0.0.1"))
    }

    @Test func properties() throws {
        #expect(IPAddress("0.0.0.0")?.isUnspecified == true)
        #expect(IPAddress("::")?.isUnspecified == true)
        #expect(IPAddress("::1")?.isUnspecified == false)
        #expect(IPAddress("127.1.2.3")?.isLoopback == true)
        #expect(IPAddress("128.0.0.1")?.isLoopback == false)
        #expect(IPAddress("::1")?.isLoopback == true)
        #expect(IPAddress("::2")?.isLoopback == false)
        #expect(IPAddress("fe80::1")?.isLinkLocalV6 == true)
        #expect(IPAddress("febf:ffff::1")?.isLinkLocalV6 == true)
        #expect(IPAddress("fec0::1")?.isLinkLocalV6 == false)
        #expect(IPAddress("169.254.0.1")?.isLinkLocalV6 == false)
        #expect(IPAddress("224.0.0.1")?.isMulticast == true)
        #expect(IPAddress("239.255.255.255")?.isMulticast == true)
        #expect(IPAddress("240.0.0.1")?.isMulticast == false)
        #expect(IPAddress("ff02::1")?.isMulticast == true)
        #expect(IPAddress("fe80::1")?.isMulticast == false)
        #expect(IPAddress.Family.ipv4.bitCount == 32)
        #expect(IPAddress.Family.ipv6.bitCount == 128)
    }

    @Test func ordering() throws {
        let sorted = ["::1", "10.0.0.2", "fd00::", "10.0.0.10", "9.255.255.255", "::"].compactMap(IPAddress.init).sorted()
        #expect(sorted.map(\.description) == ["9.255.255.255", "10.0.0.2", "10.0.0.10", "::", "::1", "fd00::"])
        #expect(try #require(IPAddress("1::")) > #require(IPAddress("0:ffff:ffff:ffff:ffff:ffff:ffff:ffff")))
    }
}
