import CShims
import NetAddress
@testable import Netlink
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Codec: attribute encoding")
struct AttributeEncodingTests {
    @Test func u8IsPaddedToFourBytes() {
        var w = AttributeWriter()
        w.put(7, u8: 0xab)
        #expect(w.bytes == [5, 0, 7, 0, 0xab, 0, 0, 0])
    }

    @Test func u16IsLittleEndianAndPadded() {
        var w = AttributeWriter()
        w.put(0x0102, u16: 0xbeef)
        #expect(w.bytes == [6, 0, 0x02, 0x01, 0xef, 0xbe, 0, 0])
    }

    @Test func u32AndI32() {
        var w = AttributeWriter()
        w.put(4, u32: 0x1122_3344)
        w.put(5, i32: -2)
        #expect(w.bytes == [8, 0, 4, 0, 0x44, 0x33, 0x22, 0x11,
                            8, 0, 5, 0, 0xfe, 0xff, 0xff, 0xff])
    }

    @Test func stringsAreNulTerminatedAndPadded() {
        var w = AttributeWriter()
        w.put(3, string: "abc")      // 4 + 4: no padding
        w.put(3, string: "ab")       // 4 + 3: one pad byte
        w.put(3, string: "")         // 4 + 1: three pad bytes
        #expect(w.bytes == [8, 0, 3, 0, 0x61, 0x62, 0x63, 0,
                            7, 0, 3, 0, 0x61, 0x62, 0, 0,
                            5, 0, 3, 0, 0, 0, 0, 0])
    }

    @Test func flagAndRawBytes() {
        var w = AttributeWriter()
        w.put(9, flag: ())
        w.put(1, bytes: [1, 2, 3, 4, 5])
        #expect(w.bytes == [4, 0, 9, 0,
                            9, 0, 1, 0, 1, 2, 3, 4, 5, 0, 0, 0])
    }

    @Test func nestInNestLengthsArePatched() {
        var w = AttributeWriter()
        w.nest(1) { outer in
            outer.nest(2) { inner in
                inner.put(3, u8: 0x33)        // 8 bytes with padding
                inner.put(4, string: "xy")    // 8 bytes with padding
            }
            outer.put(5, u32: 0x55)           // 8 bytes
        }
        w.put(6, u16: 0x66)                   // after the nest: must start at a 4-byte boundary
        #expect(w.bytes == [
            32, 0, 1, 0,                      // outer: 4 + 20 + 8
            20, 0, 2, 0,                      // inner: 4 + 8 + 8 (padding of its children included)
            5, 0, 3, 0, 0x33, 0, 0, 0,
            7, 0, 4, 0, 0x78, 0x79, 0, 0,
            8, 0, 5, 0, 0x55, 0, 0, 0,
            6, 0, 6, 0, 0x66, 0, 0, 0,
        ])
    }

    @Test func emptyNestAndNestWithHeader() {
        var w = AttributeWriter()
        w.nest(1) { _ in }
        w.nest(2) { n in
            n.append(header: IfInfoMessage(index: 7))
            n.put(3, string: "p")
        }
        #expect(w.bytes == [4, 0, 1, 0,
                            28, 0, 2, 0,                  // 4 + 16 + 8
                            0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                            6, 0, 3, 0, 0x70, 0, 0, 0])
        #expect(w.bytes.count % 4 == 0)
    }

    @Test func encodedMessageHeader() {
        let m = NetlinkMessage(type: RTM_NEWADDR, flags: NLM_F_CREATE, header: IfAddrMessage(family: 2, prefixLength: 24, index: 5),
                               summary: "s") { a in a.put(IFA_LOCAL, bytes: [10, 0, 0, 1]) }
        let wire = m.encoded(sequence: 0xa1b2_c3d4, portID: 0x0506_0708)
        #expect(wire.count == 32)
        #expect(Array(wire[0..<16]) == [32, 0, 0, 0, 0x14, 0, 0x00, 0x04,
                                        0xd4, 0xc3, 0xb2, 0xa1, 0x08, 0x07, 0x06, 0x05])
        #expect(Array(wire[16...]) == [2, 24, 0, 0, 5, 0, 0, 0, 8, 0, 2, 0, 10, 0, 0, 1])
        // encoded() carries only the message's own flags; the socket adds REQUEST|ACK/DUMP.
        #expect(m.flags == UInt16(NLM_F_CREATE))
    }

    @Test func familyHeadersEncodeAndDecode() throws {
        let ifi = IfInfoMessage(family: 7, type: 0x0304, index: -3, flags: 0x1003, change: 0xffff_ffff)
        #expect(ifi.encoded() == [7, 0, 4, 3, 0xfd, 0xff, 0xff, 0xff, 3, 0x10, 0, 0, 0xff, 0xff, 0xff, 0xff])
        var r = ByteReader(ifi.encoded()[...])
        #expect(try IfInfoMessage(reader: &r) == ifi)
        #expect(r.remaining == 0)

        var rt = RouteMessage(family: 10, destinationLength: 64, table: 254, protocolID: 3, scope: 253, type: 1)
        rt.flags = 0x0102_0304
        #expect(rt.encoded() == [10, 64, 0, 0, 254, 3, 253, 1, 4, 3, 2, 1])
        var r2 = ByteReader(rt.encoded()[...])
        #expect(try RouteMessage(reader: &r2) == rt)

        #expect(GenericMessage(family: 2).encoded() == [2, 0, 0, 0])
        let ifa = IfAddrMessage(family: 2, prefixLength: 8, flags: 0x80, scope: 254, index: 1)
        var r3 = ByteReader(ifa.encoded()[...])
        #expect(try IfAddrMessage(reader: &r3) == ifa)
    }
}

@Suite("Codec: parsing")
struct AttributeParsingTests {
    @Test func roundTripsWhatTheWriterWrote() throws {
        var w = AttributeWriter()
        w.put(1, u8: 0xfe)
        w.put(2, u16: 0x1234)
        w.put(3, u32: 0xdead_beef)
        w.put(4, string: "hello")
        w.nest(5) { n in
            n.put(1, i32: -7)
            n.nest(2) { m in m.put(9, string: "deep") }
        }
        w.nest(UInt16(NLA_F_NESTED) | 6) { n in n.put(1, u8: 1) }
        w.put(7, flag: ())

        let attrs = try Attributes(parsing: w.bytes[...])
        #expect(attrs.all.map(\.type) == [1, 2, 3, 4, 5, 6, 7])
        #expect(attrs[1]?.u8 == 0xfe)
        #expect(attrs[2]?.u16 == 0x1234)
        #expect(attrs[3]?.u32 == 0xdead_beef)
        #expect(attrs[4]?.string == "hello")
        #expect(attrs[4]?.payload.count == 6)
        let nested = try #require(try attrs[5]?.nested())
        #expect(nested[1]?.i32 == -7)
        #expect(try nested[2]?.nested()[9]?.string == "deep")
        #expect(attrs[5]?.isNested == false)
        #expect(attrs[6]?.isNested == true, "NLA_F_NESTED is reported")
        #expect(attrs[6]?.type == 6, "and stripped from the type")
        #expect(try attrs[6]?.nested()[1]?.u8 == 1)
        #expect(attrs[7]?.payload.isEmpty == true)
        #expect(attrs[8] == nil)
    }

    @Test func lastAttributeWinsAndEveryListsAll() throws {
        var w = AttributeWriter()
        w.put(3, u32: 1)
        w.put(4, u32: 2)
        w.put(3, u32: 3)
        let attrs = try Attributes(parsing: w.bytes[...])
        #expect(attrs[3]?.u32 == 3)
        #expect(attrs.every(3).compactMap(\.u32) == [1, 3])
    }

    @Test func parsesAnUnalignedSliceAndMissingTrailingPadding() throws {
        // The last attribute of a reply may end without padding; parsing a slice must use its indices.
        let bytes: [UInt8] = [0xff, 0xff, 5, 0, 1, 0, 0x2a, 0, 0, 0, 6, 0, 2, 0, 0x61, 0x62]
        let attrs = try Attributes(parsing: bytes[2...])
        #expect(attrs.all.count == 2)
        #expect(attrs[1]?.u8 == 0x2a)
        #expect(attrs[2]?.string == "ab", "a missing NUL is tolerated")
    }

    @Test func shortPayloadAccessorsReturnNil() throws {
        let attrs = try Attributes(parsing: [6, 0, 1, 0, 0x34, 0x12][...])
        #expect(attrs[1]?.u16 == 0x1234)
        #expect(attrs[1]?.u32 == nil)
        #expect(attrs[1]?.u64 == nil)
        #expect(try Attributes(parsing: [4, 0, 2, 0][...])[2]?.u8 == nil)
    }

    @Test func attributeLengthBelowFourIsRefused() {
        #expect(throws: NetlinkDecodeError.badLength(what: "attribute 1", length: 3)) {
            try Attributes(parsing: [3, 0, 1, 0, 0, 0, 0, 0][...])
        }
        #expect(throws: NetlinkDecodeError.badLength(what: "attribute 1", length: 0)) {
            try Attributes(parsing: [0, 0, 1, 0][...])
        }
    }

    @Test func attributeLengthPastTheEndIsRefused() {
        #expect(throws: NetlinkDecodeError.badLength(what: "attribute 2", length: 12)) {
            try Attributes(parsing: [12, 0, 2, 0, 1, 2, 3, 4][...])
        }
        // A good attribute followed by a bad one: the whole run is refused.
        #expect(throws: NetlinkDecodeError.self) {
            try Attributes(parsing: [8, 0, 1, 0, 1, 2, 3, 4, 0xff, 0xff, 2, 0][...])
        }
    }

    @Test func nestedGarbageIsRefused() throws {
        let attrs = try Attributes(parsing: [8, 0, 1, 0, 9, 0, 1, 0][...])
        #expect(throws: NetlinkDecodeError.self) { try attrs[1]?.nested() }
    }

    @Test func randomGarbageNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<64, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            do {
                for a in try Attributes(parsing: bytes[...]).all {
                    #expect(a.payload.count <= bytes.count - 4)
                    _ = try? a.nested()
                }
            } catch {
                #expect(error is NetlinkDecodeError)
            }
            do {
                for m in try ReceivedMessage.parse(bytes[...]) {
                    #expect(m.payload.count <= bytes.count - 16)
                    _ = try? m.decode(IfInfoMessage.self)
                }
            } catch {
                #expect(error is NetlinkDecodeError)
            }
        }
    }
}

/// An nlmsghdr followed by a payload, as the kernel would send it (payload padded to 4).
func kernelMessage(type: some BinaryInteger, flags: Int32 = 0, sequence: UInt32, payload: [UInt8],
                   length: UInt32? = nil) -> [UInt8] {
    var bytes = le32(length ?? UInt32(16 + payload.count))
    bytes += [UInt8(truncatingIfNeeded: Int(type)), UInt8(truncatingIfNeeded: Int(type) >> 8)]
    bytes += [UInt8(truncatingIfNeeded: Int(flags)), UInt8(truncatingIfNeeded: Int(flags) >> 8)]
    bytes += le32(sequence) + le32(4242) + payload
    while bytes.count % 4 != 0 { bytes.append(0) }
    return bytes
}

@Suite("Codec: received messages")
struct ReceivedMessageTests {
    @Test func splitsADatagramWithSeveralMessages() throws {
        let first = kernelMessage(type: RTM_NEWLINK, flags: NLM_F_MULTI, sequence: 7, payload: IfInfoMessage(index: 1).encoded())
        // 21 bytes long on the wire header, padded to 24 in the datagram.
        let second = kernelMessage(type: RTM_NEWADDR, flags: NLM_F_MULTI, sequence: 7, payload: [2, 8, 0, 0, 1])
        let third = kernelMessage(type: NLMSG_DONE, flags: NLM_F_MULTI, sequence: 7, payload: [0, 0, 0, 0])
        #expect(second.count == 24)
        let datagram = first + second + third
        let messages = try ReceivedMessage.parse(datagram[...])
        #expect(messages.map(\.type) == [UInt16(RTM_NEWLINK), UInt16(RTM_NEWADDR), UInt16(NLMSG_DONE)])
        #expect(messages.allSatisfy { $0.sequence == 7 && $0.portID == 4242 && $0.flags == UInt16(NLM_F_MULTI) })
        #expect(messages.map(\.payload.count) == [16, 5, 4])
        #expect(Array(messages[1].payload) == [2, 8, 0, 0, 1], "payload ends at nlmsg_len, not at the padding")
        let (ifi, attrs) = try messages[0].decode(IfInfoMessage.self)
        #expect(ifi.index == 1)
        #expect(attrs.all.isEmpty)
    }

    @Test func parsesADatagramInsideALargerBuffer() throws {
        // NetlinkSocket parses buffer[0..<count]; slices with a non-zero start must work too.
        let message = kernelMessage(type: NLMSG_DONE, sequence: 9, payload: [0, 0, 0, 0])
        let buffer = [0xaa, 0xbb, 0xcc, 0xdd] + message + [0xee]
        let messages = try ReceivedMessage.parse(buffer[4..<(4 + message.count)])
        #expect(messages.count == 1)
        #expect(messages.first?.sequence == 9)
    }

    @Test func messageLengthPastTheEndIsRefused() {
        let message = kernelMessage(type: NLMSG_DONE, sequence: 1, payload: [0, 0, 0, 0], length: 64)
        #expect(throws: NetlinkDecodeError.badLength(what: "netlink message", length: 64)) {
            try ReceivedMessage.parse(message[...])
        }
    }

    @Test func messageLengthBelowHeaderIsRefused() {
        let message = kernelMessage(type: NLMSG_DONE, sequence: 1, payload: [0, 0, 0, 0], length: 8)
        #expect(throws: NetlinkDecodeError.badLength(what: "netlink message", length: 8)) {
            try ReceivedMessage.parse(message[...])
        }
    }

    @Test func familyHeaderLongerThanPayloadIsRefused() throws {
        let message = kernelMessage(type: RTM_NEWLINK, sequence: 1, payload: [0, 0, 0, 0, 1, 0, 0, 0])
        let parsed = try #require(try ReceivedMessage.parse(message[...]).first)
        #expect(throws: NetlinkDecodeError.truncated(what: "IfInfoMessage", need: 16, have: 8)) {
            try parsed.decode(IfInfoMessage.self)
        }
    }

    @Test func addressRequestParsesBackAsAddressInfo() throws {
        let request = AddressRequest.add(prefix("fd00::1:2/64"), index: 4, interface: "eth0")
        let parsed = try #require(try ReceivedMessage.parse(request.encoded(sequence: 3)[...]).first)
        let info = try #require(try AddressInfo(parsed))
        #expect(info.prefix == prefix("fd00::1:2/64"))
        #expect(info.index == 4)
        #expect(info.flags == UInt32(IFA_F_NODAD))
        #expect(info.family == .ipv6)
    }

    @Test func routeRequestParsesBackAsRouteInfo() throws {
        let route = RouteInfo(destination: prefix("10.1.0.0/16"), gateway: address("10.0.0.1"), outputIndex: 2, metric: 100)
        let parsed = try #require(try ReceivedMessage.parse(RouteRequest.add(route, describedAs: "r").encoded(sequence: 1)[...]).first)
        #expect(try RouteInfo(parsed) == route)
        let device = RouteInfo(destination: prefix("10.2.0.0/24"), outputIndex: 5)
        #expect(device.scope == UInt8(RT_SCOPE_LINK.rawValue), "dev-only routes get link scope, as ip route gives them")
        let parsedDevice = try #require(try ReceivedMessage.parse(RouteRequest.add(device, describedAs: "r").encoded(sequence: 1)[...]).first)
        #expect(try RouteInfo(parsedDevice) == device)
    }

    @Test func routeInTableAbove255UsesRTATable() throws {
        var route = RouteInfo(destination: prefix("10.3.0.0/24"), gateway: address("10.0.0.1"))
        route.table = 1000
        let message = RouteRequest.add(route, describedAs: "r")
        #expect(message.payload[4] == UInt8(RT_TABLE_UNSPEC.rawValue))
        let attrs = try Attributes(parsing: message.payload[12...])
        #expect(attrs[RTA_TABLE.rawValue]?.u32 == 1000)
        let parsed = try #require(try ReceivedMessage.parse(message.encoded(sequence: 1)[...]).first)
        #expect(try RouteInfo(parsed)?.table == 1000)
    }
}

@Suite("Codec: error replies")
struct ErrorReplyTests {
    /// struct nlmsgerr: error, then the echoed request header (16 bytes), then (uncapped) its payload.
    func nlmsgerr(error: Int32, request: [UInt8]) -> [UInt8] {
        le32(UInt32(bitPattern: error)) + request
    }

    let request = AddressRequest.add(prefix("10.0.0.1/24"), index: 9999, interface: "ghost").encoded(sequence: 77)

    func tlvs(_ text: String) -> [UInt8] {
        var w = AttributeWriter()
        w.put(NLMSGERR_ATTR_OFFS.rawValue, u32: 20)     // an unrelated TLV first
        w.put(NLMSGERR_ATTR_MSG.rawValue, string: text)
        return w.bytes
    }

    @Test func cappedReplyWithExtendedAckText() throws {
        let payload = nlmsgerr(error: -ENODEV, request: Array(request[0..<16])) + tlvs("ipv4: Device not found")
        let reply = kernelMessage(type: NLMSG_ERROR, flags: NLM_F_CAPPED | NLM_F_ACK_TLVS, sequence: 77, payload: payload)
        let parsed = try #require(try ReceivedMessage.parse(reply[...]).first)
        let error = try #require(try NetlinkSocket.failure(in: parsed, request: "add address 10.0.0.1/24 to ghost"))
        #expect(error.code == ENODEV)
        #expect(error.kernelMessage == "ipv4: Device not found")
        #expect(error.request == "add address 10.0.0.1/24 to ghost")
        #expect(error.description == "add address 10.0.0.1/24 to ghost: No such device (kernel: ipv4: Device not found)")
    }

    @Test func uncappedReplyEchoesTheWholeRequest() throws {
        // Without NLM_F_CAPPED the kernel echoes the whole request after nlmsgerr.error, then the TLVs.
        let payload = nlmsgerr(error: -EEXIST, request: request) + tlvs("Address already assigned")
        let reply = kernelMessage(type: NLMSG_ERROR, flags: NLM_F_ACK_TLVS, sequence: 77, payload: payload)
        let parsed = try #require(try ReceivedMessage.parse(reply[...]).first)
        // The echoed request after nlmsgerr must not be parsed as attributes.
        let error = try #require(try NetlinkSocket.failure(in: parsed, request: "r"))
        #expect(error.code == EEXIST)
        #expect(error.kernelMessage == "Address already assigned")
        // The TLV offset it computes (4 + aligned nlmsg_len of the echo) is the right one:
        let tlvStart = 4 + netlinkAlign(request.count)
        #expect(try Attributes(parsing: parsed.payload.dropFirst(tlvStart))[NLMSGERR_ATTR_MSG.rawValue]?.string
                == "Address already assigned")
    }

    @Test func replyWithoutTLVsHasNoText() throws {
        let reply = kernelMessage(type: NLMSG_ERROR, flags: NLM_F_CAPPED, sequence: 77,
                                  payload: nlmsgerr(error: -EPERM, request: Array(request[0..<16])))
        let parsed = try #require(try ReceivedMessage.parse(reply[...]).first)
        let error = try #require(try NetlinkSocket.failure(in: parsed, request: "r"))
        #expect(error.code == EPERM)
        #expect(error.kernelMessage == nil)
        #expect(error.description == "r: Operation not permitted")
    }

    @Test func ackIsNotAFailure() throws {
        let reply = kernelMessage(type: NLMSG_ERROR, flags: NLM_F_CAPPED, sequence: 77,
                                  payload: nlmsgerr(error: 0, request: Array(request[0..<16])))
        let parsed = try #require(try ReceivedMessage.parse(reply[...]).first)
        #expect(try NetlinkSocket.failure(in: parsed, request: "r") == nil)
    }

    @Test func truncatedErrorReplyIsRefused() throws {
        let reply = kernelMessage(type: NLMSG_ERROR, sequence: 77, payload: [0xed, 0xff, 0xff, 0xff, 1, 2, 3, 4])
        let parsed = try #require(try ReceivedMessage.parse(reply[...]).first)
        #expect(throws: NetlinkDecodeError.self) { try NetlinkSocket.failure(in: parsed, request: "r") }
    }
}
