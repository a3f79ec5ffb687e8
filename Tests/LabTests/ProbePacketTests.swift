import Glibc
import NetAddress
import Testing
@testable import Lab

private func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad test address \(text)") }
    return address
}

/// An IPv4 header (20 bytes, no options) from `source`, TTL `ttl`, protocol ICMP, then `icmp`.
private func ipv4(from source: [UInt8], ttl: UInt8, _ icmp: [UInt8]) -> [UInt8] {
    [0x45, 0, 0, UInt8(20 + icmp.count), 0, 0, 0x40, 0, ttl, 1, 0, 0] + source + [10, 0, 0, 1] + icmp
}

private func parse(_ packet: [UInt8], family: IPAddress.Family = .ipv4, identifier: UInt16, from: sockaddr_in6 = sockaddr_in6(),
                   control: [UInt8] = []) -> ICMPSocket.Message? {
    packet.withUnsafeBytes { p in
        control.withUnsafeBytes { c in ICMPSocket.parse(p, family: family, identifier: identifier, from: from, control: c) }
    }
}

@Suite("Pure: the echo requests verify writes and the replies it reads")
struct ProbePacketTests {
    @Test func anIPv4RequestCarriesItsIdentifierSequenceAndAValidChecksum() {
        var packet = [UInt8](repeating: 0xaa, count: 24)
        packet.withUnsafeMutableBytes {
            ICMPSocket.writeEchoRequest(into: $0, type: 8, identifier: 0x1234, sequence: 0xbeef, checksummed: true)
        }
        #expect(Array(packet[0..<2]) == [8, 0])
        #expect(Array(packet[4..<8]) == [0x12, 0x34, 0xbe, 0xef])
        #expect(packet[8...].allSatisfy { $0 == 0xaa })  // the payload is left as it was
        #expect(internetChecksum(packet) == 0)  // a packet with its checksum sums to zero
        // ICMPv6: the kernel computes it.
        packet.withUnsafeMutableBytes {
            ICMPSocket.writeEchoRequest(into: $0, type: 128, identifier: 1, sequence: 2, checksummed: false)
        }
        #expect(Array(packet[0..<4]) == [128, 0, 0, 0])
    }

    @Test func addressesBecomeSockaddrsInNetworkOrder() {
        var storage = sockaddr_in6()
        let v4Length = ICMPSocket.write(ip("10.1.2.3"), into: &storage)
        #expect(v4Length == socklen_t(MemoryLayout<sockaddr_in>.size))
        let v4 = withUnsafeBytes(of: &storage) { Array($0) }
        #expect(Int32(v4[0]) | Int32(v4[1]) << 8 == AF_INET)
        #expect(Array(v4[4..<8]) == [10, 1, 2, 3])
        let v6Length = ICMPSocket.write(ip("fd00::1:2"), into: &storage)
        #expect(v6Length == socklen_t(MemoryLayout<sockaddr_in6>.size))
        #expect(withUnsafeBytes(of: &storage.sin6_addr) { Array($0) } == [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2])
    }

    @Test func anIPv4EchoReplyIsOursOnlyWithOurIdentifier() {
        let reply = ipv4(from: [10, 0, 0, 9], ttl: 62, [0, 0, 0, 0, 0x12, 0x34, 0, 7] + [UInt8](repeating: 0, count: 16))
        let message = parse(reply, identifier: 0x1234)
        #expect(message?.sequence == 7)
        #expect(message?.from == ip("10.0.0.9"))
        #expect(message?.ttl == 62)
        if case .echoReply = message?.kind {} else { Issue.record("not an echo reply: \(String(describing: message))") }
        #expect(parse(reply, identifier: 0x1235) == nil)
        #expect(parse(Array(reply.prefix(24)), identifier: 0x1234) == nil)  // cut short
    }

    @Test func anIPv4TimeExceededIsMatchedByTheRequestInside() {
        let request: [UInt8] = [8, 0, 0, 0, 0xab, 0xcd, 0x01, 0x02]
        let inner = ipv4(from: [10, 0, 0, 1], ttl: 1, request)
        let error = ipv4(from: [172, 16, 0, 1], ttl: 64, [11, 0, 0, 0, 0, 0, 0, 0] + inner)
        let message = parse(error, identifier: 0xabcd)
        #expect(message?.sequence == 0x0102)
        #expect(message?.from == ip("172.16.0.1"))
        if case .timeExceeded = message?.kind {} else { Issue.record("not time exceeded: \(String(describing: message))") }
        let unreachable = ipv4(from: [172, 16, 0, 1], ttl: 64, [3, 1, 0, 0, 0, 0, 0, 0] + inner)
        if case .unreachable(let code) = parse(unreachable, identifier: 0xabcd)?.kind { #expect(code == 1) } else {
            Issue.record("not unreachable")
        }
        #expect(parse(error, identifier: 0xabce) == nil)
    }

    @Test func anIPv6EchoReplyTakesItsSenderAndHopLimitFromOutsideThePacket() {
        var from = sockaddr_in6()
        _ = ICMPSocket.write(ip("fd00::9"), into: &from)
        // struct cmsghdr { size_t len = 20; int level = IPPROTO_IPV6; int type = IPV6_HOPLIMIT }, then the int.
        var control = [UInt8](repeating: 0, count: 24)
        control[0] = 20
        control[8] = UInt8(IPPROTO_IPV6)
        control[12] = 52
        control[16] = 61
        let reply: [UInt8] = [129, 0, 0, 0, 0x12, 0x34, 0, 9]
        let message = parse(reply, family: .ipv6, identifier: 0x1234, from: from, control: control)
        #expect(message?.sequence == 9)
        #expect(message?.from == ip("fd00::9"))
        #expect(message?.ttl == 61)
        #expect(parse(reply, family: .ipv6, identifier: 0x4321, from: from, control: control) == nil)
    }
}
