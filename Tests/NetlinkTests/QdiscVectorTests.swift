import CShims
@testable import Netlink
import Testing

// Request bytes captured from iproute2 6.1 (Debian 12) with
//   ip netns exec NS strace -e trace=sendmsg -xx -s 4096 tc qdisc replace dev d0 root netem …
// in a throwaway namespace. tc sends the request whether or not the kernel has netem, so the
// capture works on kernels without it too. strace printed tcmsg decoded; it is rebuilt here
// with ifindex 3, and TCA_KIND and TCA_OPTIONS are the bytes strace printed.

private func tcmsgRoot(index: Int32) -> [UInt8] {
    [0, 0, 0, 0] + le32(UInt32(bitPattern: index)) + le32(0) + le32(0xFFFF_FFFF) + le32(0)
}

private let netemKind: [UInt8] = [0x0a, 0x00, 0x01, 0x00] + Array("netem".utf8) + [0, 0, 0]

/// A payload as `strace -xx` prints it: "\\x00\\x01…".
func hex(_ text: String) -> [UInt8] {
    text.split(separator: "\\").filter { !$0.isEmpty }.compactMap { UInt8($0.dropFirst(), radix: 16) }
}

private let replaceCreate = UInt16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE)

@Suite struct QdiscVectorTests {
    /// tc qdisc replace dev d0 root netem delay 20ms 5ms loss 1% rate 10mbit limit 1000
    @Test func delayJitterLossRate() {
        var options = NetemOptions()
        options.latency = 20_000_000
        options.jitter = 5_000_000
        options.loss = 42_949_673   // 1% of 2^32-1, rounded as tc's get_percent
        options.rate = 1_250_000    // 10 mbit/s in bytes
        options.limit = 1000
        let message = QdiscRequest.replaceNetem(index: 3, name: "d0", options)
        let tcOptions = hex(#"\xb4\xc4\x04\x00\xe8\x03\x00\x00\x29\x5c\x8f\x02\x00\x00\x00\x00\x00\x00\x00\x00\x2d\x31\x01\x00\x14\x00\x06\x00\xd0\x12\x13\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"#)
        #expect(tcOptions.count == 44)
        let payload = tcmsgRoot(index: 3) + netemKind + [48, 0, 2, 0] + tcOptions
        expectMatches(message, Captured(type: UInt16(RTM_NEWQDISC), flags: replaceCreate, payload: payload))
    }

    /// tc qdisc replace dev d0 root netem delay 20ms 5ms 25% loss 1% 25% duplicate 1% corrupt 0.1% reorder 10% 50% limit 500
    @Test func correlationsReorderCorrupt() throws {
        var options = NetemOptions()
        options.latency = 20_000_000; options.jitter = 5_000_000; options.limit = 500
        options.loss = 42_949_673; options.duplicate = 42_949_673
        options.delayCorrelation = 0x4000_0000; options.lossCorrelation = 0x4000_0000
        options.reorder = 0x1999_999a; options.reorderCorrelation = 0x8000_0000
        options.corrupt = 0x0041_8937
        let message = QdiscRequest.replaceNetem(index: 3, name: "d0", options)
        let tcOptions = hex(#"\xb4\xc4\x04\x00\xf4\x01\x00\x00\x29\x5c\x8f\x02\x01\x00\x00\x00\x29\x5c\x8f\x02\x2d\x31\x01\x00\x10\x00\x01\x00\x00\x00\x00\x40\x00\x00\x00\x40\x00\x00\x00\x00\x0c\x00\x03\x00\x9a\x99\x99\x19\x00\x00\x00\x80\x0c\x00\x04\x00\x37\x89\x41\x00\x00\x00\x00\x00"#)
        #expect(tcOptions.count == 64)
        let payload = tcmsgRoot(index: 3) + netemKind + [68, 0, 2, 0] + tcOptions
        expectMatches(message, Captured(type: UInt16(RTM_NEWQDISC), flags: replaceCreate, payload: payload))

        // And what the kernel would report back decodes to the same parameters.
        let decoded = try NetemOptions(decoding: ArraySlice(tcOptions))
        #expect(decoded == options)
    }

    @Test func tokenBucketRoundTrip() throws {
        let options = TokenBucketOptions(rate: 1_250_000, burst: 32_768, limit: 102_400)
        var writer = AttributeWriter()
        options.encode(into: &writer)
        let outer = try Attributes(parsing: ArraySlice(writer.bytes))
        let nested = try #require(outer[TCA_OPTIONS]).nested()
        let decoded = try TokenBucketOptions(decoding: nested)
        #expect(decoded.rate == options.rate && decoded.limit == options.limit)
        #expect(abs(Int(decoded.burst) - Int(options.burst)) <= 1)
    }

    @Test func deleteRootIsTcQdiscDel() {
        let message = QdiscRequest.deleteRoot(index: 3, name: "d0")
        #expect(message.type == UInt16(RTM_DELQDISC))
        #expect(message.payload == tcmsgRoot(index: 3))
    }
}
