import CShims

/// Netlink aligns every header and attribute to 4 bytes.
@inline(__always) func netlinkAlign(_ n: Int) -> Int { (n + 3) & ~3 }

/// Appends native-endian integers, as the kernel expects in netlink headers and most attributes.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    mutating func pad() {
        let aligned = netlinkAlign(bytes.count)
        if aligned > bytes.count { bytes.append(contentsOf: repeatElement(0, count: aligned - bytes.count)) }
    }

    mutating func patch<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, byte) in raw.enumerated() { bytes[offset + i] = byte }
        }
    }
}

/// Builds a run of rtattrs. Nested attributes are written by closure: the writer records where a
/// nest starts and fills its length in when the closure returns, so no offset is counted by hand.
public struct AttributeWriter {
    var out = ByteWriter()

    public init() {}

    public var bytes: [UInt8] { out.bytes }

    public mutating func put(_ type: some BinaryInteger, bytes payload: [UInt8]) {
        out.append(UInt16(4 + payload.count))
        out.append(UInt16(truncatingIfNeeded: type))
        out.append(payload)
        out.pad()
    }

    public mutating func put(_ type: some BinaryInteger, u8 value: UInt8) { put(type, bytes: [value]) }

    public mutating func put(_ type: some BinaryInteger, u16 value: UInt16) {
        var w = ByteWriter(); w.append(value); put(type, bytes: w.bytes)
    }

    public mutating func put(_ type: some BinaryInteger, u32 value: UInt32) {
        var w = ByteWriter(); w.append(value); put(type, bytes: w.bytes)
    }

    public mutating func put(_ type: some BinaryInteger, i32 value: Int32) { put(type, u32: UInt32(bitPattern: value)) }

    /// NUL-terminated, as IFLA_IFNAME, IFLA_IFALIAS and IFLA_INFO_KIND are.
    public mutating func put(_ type: some BinaryInteger, string: String) { put(type, bytes: Array(string.utf8) + [0]) }

    public mutating func put(_ type: some BinaryInteger, flag: Void) { put(type, bytes: []) }

    /// A nested attribute (NLA_F_NESTED is left to the caller: iproute2 does not set it for the
    /// link attributes this project sends, and the kernel accepts both).
    public mutating func nest(_ type: some BinaryInteger, _ body: (inout AttributeWriter) -> Void) {
        let start = out.bytes.count
        out.append(UInt16(0))
        out.append(UInt16(truncatingIfNeeded: type))
        body(&self)
        out.patch(UInt16(out.bytes.count - start), at: start)
        out.pad()
    }

    /// Raw bytes that are not attributes, such as the ifinfomsg inside VETH_INFO_PEER.
    public mutating func append(header: some NetlinkHeader) { out.append(header.encoded()) }
}

/// A family header (ifinfomsg, ifaddrmsg, rtmsg, …) that follows the nlmsghdr.
public protocol NetlinkHeader: Sendable {
    static var size: Int { get }
    func encoded() -> [UInt8]
    init(reader: inout ByteReader) throws
}

/// One request to the kernel: message type, flags, family header and attributes.
public struct NetlinkMessage: Sendable {
    public var type: UInt16
    public var flags: UInt16
    public var payload: [UInt8]
    /// What this request does, in words, for error messages ("add address 10.0.0.1/24 to eth0").
    public var summary: String

    public init(type: some BinaryInteger, flags: some BinaryInteger, header: some NetlinkHeader, summary: String,
                attributes: (inout AttributeWriter) -> Void = { _ in }) {
        var writer = AttributeWriter()
        writer.append(header: header)
        attributes(&writer)
        self.type = UInt16(truncatingIfNeeded: type)
        self.flags = UInt16(truncatingIfNeeded: flags)
        self.payload = writer.bytes
        self.summary = summary
    }

    /// The whole message with its nlmsghdr, as it goes on the wire.
    public func encoded(sequence: UInt32, portID: UInt32 = 0) -> [UInt8] {
        var w = ByteWriter()
        w.append(UInt32(16 + payload.count))
        w.append(type)
        w.append(flags)
        w.append(sequence)
        w.append(portID)
        w.append(payload)
        w.pad()
        return w.bytes
    }
}

public enum NetlinkDecodeError: Error, CustomStringConvertible, Equatable {
    case truncated(what: String, need: Int, have: Int)
    case badLength(what: String, length: Int)

    public var description: String {
        switch self {
        case .truncated(let what, let need, let have):
            return "malformed netlink reply: \(what) needs \(need) bytes, only \(have) left"
        case .badLength(let what, let length):
            return "malformed netlink reply: \(what) claims length \(length)"
        }
    }
}

/// Reads native-endian integers from a byte slice, refusing to run past its end.
public struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var offset: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.offset = bytes.startIndex
    }

    public var remaining: Int { bytes.endIndex - offset }

    public mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String = "integer") throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw NetlinkDecodeError.truncated(what: what, need: size, have: remaining) }
        var value: T = 0
        for i in 0..<size { value |= T(bytes[offset + i]) << (8 * i) }
        offset += size
        return value
    }

    public mutating func skip(_ n: Int, _ what: String = "padding") throws {
        guard remaining >= n else { throw NetlinkDecodeError.truncated(what: what, need: n, have: remaining) }
        offset += n
    }

    public func rest() -> ArraySlice<UInt8> { bytes[offset...] }
}

/// A parsed attribute: its type (flags stripped) and payload.
public struct Attribute: Sendable {
    public let type: UInt16
    public let isNested: Bool
    public let payload: ArraySlice<UInt8>

    public var u8: UInt8? { payload.count >= 1 ? payload[payload.startIndex] : nil }
    public var u16: UInt16? { integer() }
    public var u32: UInt32? { integer() }
    public var i32: Int32? { u32.map { Int32(bitPattern: $0) } }
    public var u64: UInt64? { integer() }

    /// NUL-terminated string payloads, tolerant of a missing terminator.
    public var string: String {
        let trimmed = payload.prefix { $0 != 0 }
        return String(decoding: trimmed, as: UTF8.self)
    }

    public func nested() throws -> Attributes { try Attributes(parsing: payload) }

    func integer<T: FixedWidthInteger>() -> T? {
        var reader = ByteReader(payload)
        return try? reader.read(T.self)
    }
}

/// A parsed run of attributes, looked up by type (the last one wins, as in the kernel's nla_parse).
public struct Attributes: Sendable {
    public let all: [Attribute]

    public init(parsing bytes: ArraySlice<UInt8>) throws {
        var list: [Attribute] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            let rawType = UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8
            guard length >= 4, length <= bytes.endIndex - offset else {
                throw NetlinkDecodeError.badLength(what: "attribute \(rawType & 0x3fff)", length: length)
            }
            list.append(Attribute(type: rawType & 0x3fff,
                                  isNested: rawType & UInt16(NLA_F_NESTED) != 0,
                                  payload: bytes[(offset + 4)..<(offset + length)]))
            offset += min(netlinkAlign(length), bytes.endIndex - offset)
        }
        all = list
    }

    public subscript(type: some BinaryInteger) -> Attribute? {
        all.last { $0.type == UInt16(truncatingIfNeeded: type) }
    }

    public func every(_ type: some BinaryInteger) -> [Attribute] { all.filter { $0.type == UInt16(truncatingIfNeeded: type) } }
}

/// A message received from the kernel.
public struct ReceivedMessage: Sendable {
    public let type: UInt16
    public let flags: UInt16
    public let sequence: UInt32
    public let portID: UInt32
    public let payload: ArraySlice<UInt8>

    /// Splits a datagram into messages.
    public static func parse(_ datagram: ArraySlice<UInt8>) throws -> [ReceivedMessage] {
        var messages: [ReceivedMessage] = []
        var offset = datagram.startIndex
        while datagram.endIndex - offset >= 16 {
            var r = ByteReader(datagram[offset...])
            let length = Int(try r.read(UInt32.self))
            let type = try r.read(UInt16.self)
            let flags = try r.read(UInt16.self)
            let seq = try r.read(UInt32.self)
            let pid = try r.read(UInt32.self)
            guard length >= 16, length <= datagram.endIndex - offset else {
                throw NetlinkDecodeError.badLength(what: "netlink message", length: length)
            }
            messages.append(ReceivedMessage(type: type, flags: flags, sequence: seq, portID: pid,
                                            payload: datagram[(offset + 16)..<(offset + length)]))
            offset += min(netlinkAlign(length), datagram.endIndex - offset)
        }
        return messages
    }

    /// Decodes the family header and the attributes after it.
    public func decode<H: NetlinkHeader>(_: H.Type) throws -> (H, Attributes) {
        guard payload.count >= H.size else {
            throw NetlinkDecodeError.truncated(what: "\(H.self)", need: H.size, have: payload.count)
        }
        var reader = ByteReader(payload)
        let header = try H(reader: &reader)
        let attributeStart = payload.startIndex + netlinkAlign(H.size)
        let attributes = try Attributes(parsing: payload[min(attributeStart, payload.endIndex)...])
        return (header, attributes)
    }
}

extension NetlinkMessage {
    /// The same request with `replace` semantics (NLM_F_CREATE | NLM_F_REPLACE), as `ip address
    /// replace` and `ip route replace` send it: no error when the object is there already.
    public func replacing() -> NetlinkMessage {
        var message = self
        message.flags = UInt16(NLM_F_CREATE | NLM_F_REPLACE)
        message.summary = summary.hasPrefix("add ") ? "replace " + summary.dropFirst(4) : summary
        return message
    }
}
