import CShims
import NetAddress

/// struct ndmsg (12 bytes): the family header of neighbour messages.
public struct NeighbourMessage: NetlinkHeader, Equatable {
    public static let size = 12
    public var family: UInt8
    public var index: Int32 = 0
    public var state: UInt16 = 0
    public var flags: UInt8 = 0
    public var type: UInt8 = 0

    public init(family: UInt8, index: Int32 = 0, state: UInt16 = 0, flags: UInt8 = 0, type: UInt8 = 0) {
        self.family = family; self.index = index; self.state = state; self.flags = flags; self.type = type
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.append(family); w.append(UInt8(0)); w.append(UInt16(0))
        w.append(index); w.append(state); w.append(flags); w.append(type)
        return w.bytes
    }

    public init(reader r: inout ByteReader) throws {
        family = try r.read(UInt8.self, "ndm_family"); try r.skip(3)
        index = try r.read(Int32.self, "ndm_ifindex"); state = try r.read(UInt16.self, "ndm_state")
        flags = try r.read(UInt8.self, "ndm_flags"); type = try r.read(UInt8.self, "ndm_type")
    }
}

/// A neighbour (ARP or NDP) entry as the kernel reports it (RTM_NEWNEIGH), as `ip neigh` shows it.
public struct NeighbourInfo: Sendable, Equatable {
    public var index: Int32
    public var destination: IPAddress
    /// The link-layer address, absent while unresolved (INCOMPLETE, FAILED).
    public var linkAddress: [UInt8]?
    /// NUD_* bits.
    public var state: UInt16

    public var family: IPAddress.Family { destination.family }

    public init(index: Int32, destination: IPAddress, linkAddress: [UInt8]? = nil, state: UInt16) {
        self.index = index; self.destination = destination; self.linkAddress = linkAddress; self.state = state
    }

    /// nil for entries that are not about IPv4 or IPv6 addresses (bridge FDB entries, proxies).
    public init?(_ message: ReceivedMessage) throws {
        let (header, attributes) = try message.decode(NeighbourMessage.self)
        guard header.family == AddressFamily.inet || header.family == AddressFamily.inet6,
              let raw = attributes[NDA_DST], let destination = IPAddress(bytes: raw.payload) else { return nil }
        index = header.index
        self.destination = destination
        linkAddress = attributes[NDA_LLADDR].map { Array($0.payload) }
        state = header.state
    }

    /// The state as `ip neigh` prints it: REACHABLE, STALE, FAILED, …
    public var stateName: String {
        let names: [(Int32, String)] = [
            (NUD_INCOMPLETE, "INCOMPLETE"), (NUD_REACHABLE, "REACHABLE"), (NUD_STALE, "STALE"),
            (NUD_DELAY, "DELAY"), (NUD_PROBE, "PROBE"), (NUD_FAILED, "FAILED"), (NUD_NOARP, "NOARP"),
            (NUD_PERMANENT, "PERMANENT"),
        ]
        let set = names.filter { state & UInt16($0.0) != 0 }.map(\.1)
        return set.isEmpty ? "NONE" : set.joined(separator: ",")
    }

    public var isFailed: Bool { state & UInt16(NUD_FAILED) != 0 }
}

/// Requests about neighbours, as `ip neigh` sends them.
public enum NeighbourRequest {
    /// `ip neigh show` (family unspecified) or `ip -4/-6 neigh show`.
    public static func dump(family: UInt8 = AddressFamily.unspecified) -> NetlinkMessage {
        NetlinkMessage(type: RTM_GETNEIGH, flags: 0, header: NeighbourMessage(family: family), summary: "list neighbours")
    }
}

extension NeighbourRequest {
    /// `ip neigh replace ADDRESS lladdr MAC dev INTERFACE nud permanent`: an entry the kernel
    /// never expires, never probes, and does not count against gc_thresh3.
    public static func addPermanent(_ address: IPAddress, linkAddress: [UInt8], index: Int32, interface: String) -> NetlinkMessage {
        NetlinkMessage(
            type: RTM_NEWNEIGH, flags: NLM_F_CREATE | NLM_F_REPLACE,
            header: NeighbourMessage(family: address.family == .ipv6 ? AddressFamily.inet6 : AddressFamily.inet,
                                     index: index, state: UInt16(NUD_PERMANENT)),
            summary: "add permanent neighbour \(address) on \(interface)"
        ) { a in
            a.put(NDA_DST, bytes: address.bytes)
            a.put(NDA_LLADDR, bytes: linkAddress)
        }
    }
}

extension NeighbourRequest {
    /// `ip neigh del ADDRESS dev INTERFACE`.
    public static func delete(_ address: IPAddress, index: Int32, interface: String) -> NetlinkMessage {
        NetlinkMessage(
            type: RTM_DELNEIGH, flags: 0,
            header: NeighbourMessage(family: address.family == .ipv6 ? AddressFamily.inet6 : AddressFamily.inet, index: index),
            summary: "delete neighbour \(address) on \(interface)"
        ) { a in
            a.put(NDA_DST, bytes: address.bytes)
        }
    }
}

extension NetlinkSocket {
    public func neighbours(family: UInt8 = AddressFamily.unspecified) throws -> [NeighbourInfo] {
        try dump(NeighbourRequest.dump(family: family))
            .filter { $0.type == UInt16(RTM_NEWNEIGH) }
            .compactMap(NeighbourInfo.init)
    }
}
