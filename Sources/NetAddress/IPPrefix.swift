/// An address with a prefix length: "192.168.0.1/24" as an interface address, or
/// "10.0.0.0/24" as a route destination. The address keeps its host bits; `network` drops them.
public struct IPPrefix: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let address: IPAddress
    public let length: Int

    public init?(address: IPAddress, length: Int) {
        guard length >= 0, length <= address.family.bitCount else { return nil }
        self.address = address
        self.length = length
    }

    /// Parses "ADDR/LEN"; a bare address means a host prefix (/32 or /128).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(String(parts[0])) else { return nil }
        var length = address.family.bitCount
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let parsed = Int(parts[1]) else { return nil }
            length = parsed
        }
        self.init(address: address, length: length)
    }

    public var family: IPAddress.Family { address.family }

    public var description: String { "\(address)/\(length)" }

    /// The prefix with host bits cleared: 192.168.0.1/24 → 192.168.0.0/24.
    public var network: IPPrefix {
        IPPrefix(unchecked: address.masked(to: length), length: length)
    }

    public var hasHostBits: Bool { address.masked(to: length) != address }

    public func contains(_ other: IPAddress) -> Bool {
        other.family == family && other.masked(to: length) == address.masked(to: length)
    }

    public func contains(_ other: IPPrefix) -> Bool {
        other.length >= length && contains(other.address)
    }

    public func overlaps(_ other: IPPrefix) -> Bool {
        contains(other) || other.contains(self)
    }

    /// The block one bit shorter that holds this one: 10.0.0.4/30 → 10.0.0.0/29; nil for /0.
    public var parent: IPPrefix? {
        length > 0 ? IPPrefix(unchecked: address.masked(to: length - 1), length: length - 1) : nil
    }

    /// The parent's other half: 10.0.0.4/30 → 10.0.0.0/30; nil for /0.
    public var sibling: IPPrefix? {
        guard length > 0 else { return nil }
        var bytes = address.masked(to: length).bytes
        bytes[(length - 1) / 8] ^= UInt8(0x80) >> UInt8((length - 1) % 8)
        return IPAddress(bytes: bytes).map { IPPrefix(unchecked: $0, length: length) }
    }

    init(unchecked address: IPAddress, length: Int) {
        self.address = address
        self.length = length
    }

    public static func < (a: IPPrefix, b: IPPrefix) -> Bool {
        (a.address, a.length) < (b.address, b.length)
    }
}

extension IPAddress {
    public func masked(to length: Int) -> IPAddress {
        switch self {
        case .v4(let v):
            let mask: UInt32 = length <= 0 ? 0 : (length >= 32 ? .max : ~(UInt32.max >> UInt32(length)))
            return .v4(v & mask)
        case .v6(let hi, let lo):
            let hiMask: UInt64 = length <= 0 ? 0 : (length >= 64 ? .max : ~(UInt64.max >> UInt64(length)))
            let loBits = length - 64
            let loMask: UInt64 = loBits <= 0 ? 0 : (loBits >= 64 ? .max : ~(UInt64.max >> UInt64(loBits)))
            return .v6(hi & hiMask, lo & loMask)
        }
    }
}
