/// An IPv4 or IPv6 address, parsed and printed without libc so it behaves the same everywhere.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    public enum Family: String, Sendable, Codable, CustomStringConvertible {
        case ipv4, ipv6
        public var bitCount: Int { self == .ipv4 ? 32 : 128 }
        public var description: String { self == .ipv4 ? "IPv4" : "IPv6" }
    }

    public var family: Family {
        if case .v4 = self { return .ipv4 }
        return .ipv6
    }

    public init?(_ text: String) {
        // Bytes, not Characters: StringProtocol.contains(String) goes through Foundation.
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let value = IPAddress.parseV6(Substring(text)) else { return nil }
            self = value
        } else {
            guard let value = IPAddress.parseV4(Substring(text)) else { return nil }
            self = .v4(value)
        }
    }

    /// Network-order bytes, as the kernel wants them in IFA_LOCAL, RTA_GATEWAY and friends.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v):
            return [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
        case .v6(let hi, let lo):
            var out = [UInt8]()
            out.reserveCapacity(16)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((hi >> UInt64(shift)) & 0xff)) }
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((lo >> UInt64(shift)) & 0xff)) }
            return out
        }
    }

    public init?(bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        if array.count == 4 {
            self = .v4(array.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        } else if array.count == 16 {
            let hi = array[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let lo = array[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(hi, lo)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        case .v6(let hi, let lo):
            return IPAddress.formatV6(hi: hi, lo: lo)
        }
    }

    public var isUnspecified: Bool {
        switch self {
        case .v4(let v): return v == 0
        case .v6(let hi, let lo): return hi == 0 && lo == 0
        }
    }

    public var isLinkLocalV6: Bool {
        if case .v6(let hi, _) = self { return hi >> 54 == 0x3fa }  // fe80::/10
        return false
    }

    public var isLoopback: Bool {
        switch self {
        case .v4(let v): return v >> 24 == 127
        case .v6(let hi, let lo): return hi == 0 && lo == 1
        }
    }

    public var isMulticast: Bool {
        switch self {
        case .v4(let v): return v >> 28 == 0xe
        case .v6(let hi, _): return hi >> 56 == 0xff
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): return x < y
        case (.v6(let xh, let xl), .v6(let yh, let yl)): return (xh, xl) < (yh, yl)
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    // MARK: parsing

    /// Four decimal octets, byte by byte: a file of 2,000,000 routes spent a fifth of its
    /// decoding splitting and counting Characters here.
    static func parseV4(_ text: Substring) -> UInt32? {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                dots += 1
                octet = 0
                digits = 0
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                // Leading zeros are refused: "010" means octal to inet_aton and decimal to others.
                if digits == 1 && octet == 0 { return nil }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return value << 8 | octet
    }

    static func parseV6(_ text: Substring) -> IPAddress? {
        guard !text.isEmpty, text.count <= 45 else { return nil }
        var groups: [UInt16] = []
        var tailGroups: [UInt16] = []
        var sawDoubleColon = false
        let halves = splitOnDoubleColon(text)
        guard halves.count <= 2 else { return nil }
        sawDoubleColon = halves.count == 2

        func parseGroups(_ part: Substring, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, field) in fields.enumerated() {
                if allowV4Tail, i == fields.count - 1, field.contains(".") {
                    guard let v4 = parseV4(field) else { return nil }
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xffff))
                    continue
                }
                guard (1...4).contains(field.count), field.allSatisfy({ $0.isHexDigit && $0.isASCII }),
                      let g = UInt16(field, radix: 16) else { return nil }
                out.append(g)
            }
            return out
        }
        guard let head = parseGroups(halves[0], allowV4Tail: !sawDoubleColon) else { return nil }
        groups = head
        if sawDoubleColon {
            guard let tail = parseGroups(halves[1], allowV4Tail: true) else { return nil }
            tailGroups = tail
            guard groups.count + tailGroups.count <= 7 else { return nil }
            groups += Array(repeating: 0, count: 8 - groups.count - tailGroups.count) + tailGroups
        }
        guard groups.count == 8 else { return nil }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(groups[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(groups[i]) }
        return .v6(hi, lo)
    }

    static func splitOnDoubleColon(_ text: Substring) -> [Substring] {
        var pieces: [Substring] = []
        var start = text.startIndex
        var i = text.startIndex
        while i < text.endIndex {
            let next = text.index(after: i)
            if text[i] == ":", next < text.endIndex, text[next] == ":" {
                pieces.append(text[start..<i])
                start = text.index(after: next)
                i = start
            } else {
                i = next
            }
        }
        pieces.append(text[start...])
        return pieces
    }

    /// RFC 5952: lower case, longest run of two or more zero groups as "::", first run on ties.
    static func formatV6(hi: UInt64, lo: UInt64) -> String {
        var groups: [UInt16] = []
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16((hi >> UInt64(shift)) & 0xffff)) }
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16((lo >> UInt64(shift)) & 0xffff)) }
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 { bestStart = i; bestLength = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        // IPv4-mapped addresses read better in their dotted form, as inet_ntop prints them.
        if bestStart == 0 && bestLength == 5 && groups[5] == 0xffff {
            let v4 = UInt32(groups[6]) << 16 | UInt32(groups[7])
            return "::ffff:" + IPAddress.v4(v4).description
        }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
