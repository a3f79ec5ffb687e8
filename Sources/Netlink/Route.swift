import CShims
import NetAddress

/// A route to add or one read back (RTM_NEWROUTE). A nil destination is the default route.
public struct RouteInfo: Sendable, Equatable {
    public var destination: IPPrefix
    public var gateway: IPAddress?
    public var outputIndex: UInt32?
    public var metric: UInt32?
    public var preferredSource: IPAddress?
    public var table: UInt32 = UInt32(RT_TABLE_MAIN.rawValue)
    public var protocolID: UInt8 = UInt8(RTPROT_BOOT)
    public var scope: UInt8 = UInt8(RT_SCOPE_UNIVERSE.rawValue)
    public var type: UInt8 = UInt8(RTN_UNICAST)
    public var flags: UInt32 = 0

    public var family: IPAddress.Family { destination.family }
    public var isDefault: Bool { destination.length == 0 }

    public init(destination: IPPrefix, gateway: IPAddress? = nil, outputIndex: UInt32? = nil, metric: UInt32? = nil) {
        self.destination = destination
        self.gateway = gateway
        self.outputIndex = outputIndex
        self.metric = metric
        // `ip route add X dev Y` without a gateway gets link scope; with one, universe.
        if gateway == nil && outputIndex != nil { scope = UInt8(RT_SCOPE_LINK.rawValue) }
    }

    public init?(_ message: ReceivedMessage) throws {
        let (header, attributes) = try message.decode(RouteMessage.self)
        let family: IPAddress.Family = header.family == AddressFamily.inet6 ? .ipv6 : .ipv4
        guard header.family == AddressFamily.inet || header.family == AddressFamily.inet6 else { return nil }
        let zero: IPAddress = family == .ipv4 ? .v4(0) : .v6(0, 0)
        let destinationAddress = attributes[RTA_DST.rawValue].flatMap { IPAddress(bytes: $0.payload) } ?? zero
        guard let destination = IPPrefix(address: destinationAddress, length: Int(header.destinationLength)) else { return nil }
        self.destination = destination
        gateway = attributes[RTA_GATEWAY.rawValue].flatMap { IPAddress(bytes: $0.payload) }
        outputIndex = attributes[RTA_OIF.rawValue]?.u32
        metric = attributes[RTA_PRIORITY.rawValue]?.u32
        preferredSource = attributes[RTA_PREFSRC.rawValue].flatMap { IPAddress(bytes: $0.payload) }
        table = attributes[RTA_TABLE.rawValue]?.u32 ?? UInt32(header.table)
        protocolID = header.protocolID
        scope = header.scope
        type = header.type
        flags = header.flags
    }

    public var protocolName: String {
        switch Int32(protocolID) {
        case RTPROT_KERNEL: return "kernel"
        case RTPROT_BOOT: return "boot"
        case RTPROT_STATIC: return "static"
        case RTPROT_REDIRECT: return "redirect"
        case RTPROT_RA: return "ra"
        // What FRR's zebra installs routes as, by the daemon that chose them.
        case RTPROT_ZEBRA: return "zebra"
        case RTPROT_BGP: return "bgp"
        case RTPROT_ISIS: return "isis"
        case RTPROT_OSPF: return "ospf"
        case RTPROT_RIP: return "rip"
        default: return String(protocolID)
        }
    }

    /// nil for ordinary unicast routes; the keyword `ip route` prints first otherwise.
    public var typeName: String? {
        switch Int(type) {
        case Int(RTN_UNICAST): return nil
        case Int(RTN_BLACKHOLE): return "blackhole"
        case Int(RTN_UNREACHABLE): return "unreachable"
        case Int(RTN_PROHIBIT): return "prohibit"
        case Int(RTN_LOCAL): return "local"
        default: return String(type)
        }
    }

    public var scopeName: String {
        switch Int32(scope) {
        case Int32(RT_SCOPE_UNIVERSE.rawValue): return "global"
        case Int32(RT_SCOPE_LINK.rawValue): return "link"
        case Int32(RT_SCOPE_HOST.rawValue): return "host"
        default: return String(scope)
        }
    }
}

/// Requests about routes, as `ip route` sends them.
public enum RouteRequest {
    /// `ip route add DEST [via GW] [dev IFACE] [metric N]` into the main table, protocol boot
    /// (what `ip route add` uses, so a deployed lab reads exactly like a hand-made one).
    public static func add(_ route: RouteInfo, describedAs text: String) -> NetlinkMessage {
        message(type: RTM_NEWROUTE, flags: NLM_F_CREATE | NLM_F_EXCL, route, "add route \(text)")
    }

    public static func delete(_ route: RouteInfo, describedAs text: String) -> NetlinkMessage {
        message(type: RTM_DELROUTE, flags: 0, route, "delete route \(text)")
    }

    private static func message(type: Int, flags: Int32, _ route: RouteInfo, _ summary: String) -> NetlinkMessage {
        let isV6 = route.family == .ipv6
        let table = route.table < 256 ? UInt8(route.table) : UInt8(RT_TABLE_UNSPEC.rawValue)
        let header = RouteMessage(family: isV6 ? AddressFamily.inet6 : AddressFamily.inet,
                                  destinationLength: UInt8(route.destination.length), table: table,
                                  protocolID: route.protocolID, scope: route.scope, type: route.type)
        return NetlinkMessage(type: type, flags: flags, header: header, summary: summary) { a in
            if route.destination.length > 0 {
                a.put(RTA_DST.rawValue, bytes: route.destination.network.address.bytes)
            }
            // iproute2's order, so requests compare byte for byte with `ip route add`.
            if let gateway = route.gateway { a.put(RTA_GATEWAY.rawValue, bytes: gateway.bytes) }
            if let metric = route.metric { a.put(RTA_PRIORITY.rawValue, u32: metric) }
            if let index = route.outputIndex { a.put(RTA_OIF.rawValue, u32: index) }
            if route.table >= 256 { a.put(RTA_TABLE.rawValue, u32: route.table) }
        }
    }

    public static func dump(family: UInt8 = AddressFamily.unspecified) -> NetlinkMessage {
        NetlinkMessage(type: RTM_GETROUTE, flags: 0, header: RouteMessage(family: family), summary: "list routes")
    }
}

extension NetlinkSocket {
    /// Routes of the main table (what `ip route` and `ip -6 route` show).
    public func routes(family: UInt8 = AddressFamily.unspecified) throws -> [RouteInfo] {
        try routesInEveryTable(family: family).filter { $0.table == UInt32(RT_TABLE_MAIN.rawValue) }
    }

    /// Routes of every table, local included (`ip route show table all`).
    public func routesInEveryTable(family: UInt8 = AddressFamily.unspecified) throws -> [RouteInfo] {
        try dump(RouteRequest.dump(family: family))
            .filter { $0.type == UInt16(RTM_NEWROUTE) }
            .compactMap(RouteInfo.init)
    }
}
