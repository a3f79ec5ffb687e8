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

/// `routing:`. `static` computes routes (StaticRouting) once addresses are known; `ospf` and
/// `bgp` run FRR on every router (the Routing module writes its configuration) and give hosts
/// their routes as `static` does.
public enum RoutingMode: String, Sendable, CaseIterable {
    case none
    case `static`
    case ospf
    case bgp

    /// Routers learn their routes from a protocol, at run time.
    public var isDynamic: Bool { self == .ospf || self == .bgp }
}

extension Validator {
    /// Fills the addresses the plan provides: every segment (a point-to-point link, or the
    /// interfaces one bridge joins in one VLAN) of two or more interfaces with no address of a
    /// family gets the next free subnet of that family's pool, in file order, sized to it. Runs
    /// before the address and route checks, so generated addresses are checked like written
    /// ones and routes may use them as gateways.
    mutating func assignAddresses(_ lab: inout DraftLab) {
        guard let plan = lab.addressing, let location = lab.addressingLocation else { return }
        let written = lab.interfaces.flatMap { $0.addresses.map(\.value) }
        let segments = Layer2.segments(of: lab.topology(file: location.file)).filter { $0.count >= 2 }
        for (pool, linkLength) in [(plan.ipv4, plan.ipv4LinkLength), (plan.ipv6, plan.ipv6LinkLength)] {
            guard let pool else { continue }
            let family = pool.family
            let needing = segments.filter { segment in
                !segment.contains { attachment in lab.addresses(of: attachment).contains { $0.value.family == family } }
            }
            var subnets = SubnetAllocator(pool: pool.network, taken: written)
            for segment in needing {
                let length = Self.subnetLength(for: segment.count, family: family, linkLength: linkLength)
                guard let subnet = subnets.next(length: length) else {
                    error(location, "the \(family) pool \(pool.network) has no room left: \(needing.count) links and segments need a subnet "
                          + "(a /\(linkLength) per link, larger for bridged segments)",
                          hint: "give a larger pool, or a longer link prefix (ipv4-link: 31, ipv6-link: 127)")
                    break
                }
                for (attachment, host) in zip(segment, Self.hostAddresses(in: subnet, count: segment.count)) {
                    lab.addAddress(Located(value: host, location: location), to: attachment)
                }
            }
        }
    }

    /// A segment of two gets the link length (/31 or /30, /127 or /64); a larger one the
    /// smallest IPv4 subnet holding its interfaces, the network and the broadcast address
    /// (5 interfaces: a /29), or an IPv6 /64.
    static func subnetLength(for count: Int, family: IPAddress.Family, linkLength: Int) -> Int {
        if count <= 2 { return linkLength }
        if family == .ipv6 { return 64 }
        var length = 30
        while length > 0, (1 << (32 - length)) < count + 2 { length -= 1 }
        return length
    }

    /// The addresses of a subnet's `count` interfaces: both addresses of a /31 or /127, else the
    /// first hosts in order (.1, .2, …; ::1, ::2, …).
    static func hostAddresses(in subnet: IPPrefix, count: Int = 2) -> [IPPrefix] {
        let bits = subnet.family.bitCount - subnet.length
        let offsets: [UInt64] = bits <= 1 ? [0, 1] : (1...UInt64(max(count, 1))).map { $0 }
        return offsets.compactMap { IPPrefix(address: subnet.address.adding(offset: $0), length: subnet.length) }
    }
}

extension DraftLab {
    func addresses(of attachment: Attachment) -> [Located<IPPrefix>] {
        let end = links[attachment.link].endpoints[attachment.end]
        guard let sub = attachment.subinterface else { return end.addresses }
        return end.subinterfaces[sub].addresses
    }

    mutating func addAddress(_ address: Located<IPPrefix>, to attachment: Attachment) {
        if let sub = attachment.subinterface {
            links[attachment.link].endpoints[attachment.end].subinterfaces[sub].addresses.append(address)
        } else {
            links[attachment.link].endpoints[attachment.end].addresses.append(address)
        }
    }
}

/// Subnets of any length inside a pool, each after the one before (aligned to its own size),
/// none overlapping a taken prefix: addresses grow in file order.
struct SubnetAllocator {
    let pool: IPPrefix
    let taken: [IPPrefix]
    private var cursor: IPAddress?

    init(pool: IPPrefix, taken: [IPPrefix]) {
        self.pool = pool
        self.taken = taken.map(\.network)
        cursor = pool.address
    }

    mutating func next(length: Int) -> IPPrefix? {
        let bits = pool.family.bitCount
        guard length >= pool.length, length <= bits, let start = cursor,
              var candidate = IPPrefix(address: start, length: length)?.network.address else { return nil }
        if candidate < start { candidate = candidate.adding(offset: 1, shiftedBy: bits - length) }
        while pool.contains(candidate), let subnet = IPPrefix(address: candidate, length: length) {
            var end = candidate.adding(offset: 1, shiftedBy: bits - length)
            guard let blocking = taken.first(where: { $0.overlaps(subnet) }) else {
                cursor = end > candidate ? end : nil
                return subnet
            }
            // Past whatever is in the way, at once: a large prefix written by hand is skipped
            // in one step, not a subnet at a time.
            if blocking.length < length {
                let past = blocking.address.adding(offset: 1, shiftedBy: bits - blocking.length)
                if past > end { end = past }
            }
            guard end > candidate else { break }
            candidate = end
        }
        cursor = nil
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
