import NetAddress

/// `addressing:`: a pool per family from which every link without addresses of that family gets
/// a subnet of its own, in file order, skipping any subnet that overlaps an address written by
/// hand. The same file always yields the same addresses.
public struct AddressPlan: Sendable, Equatable {
    public var ipv4: IPPrefix?
    public var ipv6: IPPrefix?
    /// Prefix length of an IPv4 link subnet: 31 (RFC 3021, both addresses usable) or 30.
    public var ipv4LinkLength = 31
    /// Prefix length of an IPv6 link subnet: 127 (RFC 6164) or 64.
    public var ipv6LinkLength = 127

    public init(ipv4: IPPrefix? = nil, ipv6: IPPrefix? = nil, ipv4LinkLength: Int = 31, ipv6LinkLength: Int = 127) {
        self.ipv4 = ipv4; self.ipv6 = ipv6; self.ipv4LinkLength = ipv4LinkLength; self.ipv6LinkLength = ipv6LinkLength
    }
}

/// `routing: static` computes routes (StaticRouting) once addresses are known.
public enum RoutingMode: String, Sendable, CaseIterable {
    case none
    case `static`
}

extension Validator {
    /// Fills the addresses the plan provides. Runs before the address and route checks, so
    /// generated addresses are checked like written ones and routes may use them as gateways.
    mutating func assignAddresses(_ lab: inout DraftLab) {
        guard let plan = lab.addressing, let location = lab.addressingLocation else { return }
        let written = lab.links.flatMap { $0.endpoints.flatMap { $0.addresses.map(\.value) } }
        for (pool, length) in [(plan.ipv4, plan.ipv4LinkLength), (plan.ipv6, plan.ipv6LinkLength)] {
            guard let pool else { continue }
            let family = pool.family
            // Links to a bridge are ports of a segment, not point-to-point links: left alone.
            let bridges = Set(lab.nodes.filter { $0.kind == .bridge }.map(\.name))
            let needing = lab.links.indices.filter { index in
                lab.links[index].endpoints.count == 2
                    && !lab.links[index].endpoints.contains { bridges.contains($0.node.value) }
                    && !lab.links[index].endpoints.contains { $0.addresses.contains { $0.value.family == family } }
            }
            var subnets = SubnetIterator(pool: pool.network, length: length)
            for index in needing {
                guard let subnet = subnets.next(avoiding: written) else {
                    error(location, "the \(family) pool \(pool.network) has no room left: \(needing.count) links need a /\(length) each",
                          hint: "give a larger pool, or a longer link prefix (ipv4-link: 31, ipv6-link: 127)")
                    break
                }
                let hosts = Self.hostAddresses(in: subnet)
                for end in 0..<2 {
                    lab.links[index].endpoints[end].addresses.append(Located(value: hosts[end], location: location))
                }
            }
        }
    }

    /// The two ends of a link subnet: both addresses of a /31 or /127, the first two hosts of
    /// anything larger (.1 and .2, ::1 and ::2).
    static func hostAddresses(in subnet: IPPrefix) -> [IPPrefix] {
        let bits = subnet.family.bitCount - subnet.length
        let offsets: [UInt64] = bits <= 1 ? [0, 1] : [1, 2]
        return offsets.compactMap { IPPrefix(address: subnet.address.adding(offset: $0), length: subnet.length) }
    }
}

/// Consecutive subnets of one length inside a pool.
struct SubnetIterator {
    let pool: IPPrefix
    let length: Int
    private var index: UInt64 = 0
    private let count: UInt64

    init(pool: IPPrefix, length: Int) {
        self.pool = pool
        self.length = length
        let spare = length - pool.length
        count = spare < 0 ? 0 : (spare >= 63 ? UInt64.max : UInt64(1) << UInt64(spare))
    }

    mutating func next(avoiding taken: [IPPrefix]) -> IPPrefix? {
        let step = pool.family.bitCount - length
        while index < count {
            let base = pool.address.adding(offset: index, shiftedBy: step)
            index += 1
            guard let subnet = IPPrefix(address: base, length: length) else { return nil }
            if !taken.contains(where: { $0.network.overlaps(subnet) }) { return subnet }
        }
        return nil
    }
}

extension IPAddress {
    /// self + (offset << shift), within the address's width (wrapping is the caller's concern:
    /// offsets stay inside a pool).
    func adding(offset: UInt64, shiftedBy shift: Int = 0) -> IPAddress {
        switch self {
        case .v4(let value):
            return .v4(value &+ UInt32(truncatingIfNeeded: offset << UInt64(min(shift, 63))))
        case .v6(let high, let low):
            // 128-bit addition of offset << shift.
            let (addHigh, addLow): (UInt64, UInt64)
            if shift >= 64 {
                (addHigh, addLow) = (offset << UInt64(shift - 64), 0)
            } else if shift == 0 {
                (addHigh, addLow) = (0, offset)
            } else {
                (addHigh, addLow) = (offset >> UInt64(64 - shift), offset << UInt64(shift))
            }
            let (sumLow, carry) = low.addingReportingOverflow(addLow)
            return .v6(high &+ addHigh &+ (carry ? 1 : 0), sumLow)
        }
    }
}
