import CShims
#if canImport(Glibc)
import Glibc
#endif

/// The rtnetlink multicast groups a subscription can join (enum rtnetlink_groups), as
/// `ip monitor link address` joins them.
public enum NetlinkGroup: UInt32, Sendable, CaseIterable {
    /// RTNLGRP_LINK: interfaces appearing, disappearing, going up or down, losing carrier.
    case link = 1
    /// RTNLGRP_TC: qdiscs set, changed or removed (impairments).
    case trafficControl = 4
    /// RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR: addresses added or removed.
    case ipv4Address = 5
    case ipv6Address = 9
    /// RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE: routes added or removed, by anyone (the kernel,
    /// nslab, FRR's zebra).
    case ipv4Route = 7
    case ipv6Route = 11
}

/// One change the kernel announced (or one answer of a dump asked for on the same socket: a
/// link dump's messages are the same full RTM_NEWLINK a change brings).
public enum NetlinkEvent: Sendable {
    case link(LinkInfo)
    case linkRemoved(LinkInfo)
    case address(AddressInfo)
    case addressRemoved(AddressInfo)
    case qdisc(QdiscInfo)
    case qdiscRemoved(QdiscInfo)
    case route(RouteInfo)
    case routeRemoved(RouteInfo)
    /// The end of the dump requested with that sequence number.
    case dumpDone(sequence: UInt32)
    /// The receive buffer overflowed (ENOBUFS): changes were lost, read the state again.
    case overrun
}

/// A NETLINK_ROUTE socket subscribed to multicast groups, as `ip monitor` opens it. Like every
/// netlink socket it belongs for life to the namespace of the thread that opened it, and it
/// holds that namespace alive while it is open: close it when the namespace is deleted.
///
/// Non-blocking: wait for `fd` with poll(2), then call `receive`. The messages are decoded by the
/// same types that decode dump answers (LinkInfo, AddressInfo, QdiscInfo).
public final class NetlinkEventSocket: @unchecked Sendable {
    public let fd: Int32
    private var sequence = UInt32.random(in: 1...0x3fff_ffff)

    /// Opens a socket in the calling thread's network namespace and joins `groups`.
    public init(groups: [NetlinkGroup]) throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                        NETLINK_ROUTE)
        guard fd >= 0 else { throw SystemCallError("socket(AF_NETLINK)") }
        do {
            try NetlinkSocket.configure(fd)
            for group in groups {
                var number = group.rawValue
                guard setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &number, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
                    throw SystemCallError("setsockopt(NETLINK_ADD_MEMBERSHIP \(group))")
                }
            }
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Asks for every link of the namespace (with its counters); the answers arrive through
    /// `receive` as `.link` events, then `.dumpDone` with the returned sequence number. Not
    /// thread-safe: one thread sends and receives. One dump at a time: the kernel refuses a
    /// second while the first is answered (EBUSY).
    public func requestLinkDump() throws -> UInt32 {
        try requestDump(LinkRequest.dump())
    }

    /// Asks for every address of the namespace, answered as `.address` events, then `.dumpDone`.
    public func requestAddressDump() throws -> UInt32 {
        try requestDump(AddressRequest.dump())
    }

    private func requestDump(_ message: NetlinkMessage) throws -> UInt32 {
        sequence &+= 1
        var request = message
        request.flags |= UInt16(NLM_F_REQUEST | NLM_F_DUMP)
        try NetlinkSocket.send(request.encoded(sequence: sequence), on: fd)
        return sequence
    }

    /// Everything waiting on the socket, decoded; empty when nothing is. `buffer` is the caller's
    /// receive buffer (64 KiB holds any one datagram the kernel sends here).
    public func receive(buffer: inout [UInt8]) throws -> [NetlinkEvent] {
        if buffer.count < 1 << 16 { buffer = [UInt8](repeating: 0, count: 1 << 16) }
        var events: [NetlinkEvent] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return events
                case ENOBUFS: events.append(.overrun); continue
                default: throw SystemCallError("recv(netlink)")
                }
            }
            if count == 0 { return events }
            for message in try ReceivedMessage.parse(buffer[0..<count]) {
                if let event = try NetlinkEventSocket.event(message) { events.append(event) }
            }
        }
    }

    /// The event a message announces; nil for the types no group here sends (and for addresses
    /// and routes that are not IPv4 or IPv6).
    static func event(_ message: ReceivedMessage) throws -> NetlinkEvent? {
        switch Int32(message.type) {
        case Int32(RTM_NEWLINK): return .link(try LinkInfo(message))
        case Int32(RTM_DELLINK): return .linkRemoved(try LinkInfo(message))
        case Int32(RTM_NEWADDR): return try AddressInfo(message).map(NetlinkEvent.address)
        case Int32(RTM_DELADDR): return try AddressInfo(message).map(NetlinkEvent.addressRemoved)
        case Int32(RTM_NEWQDISC): return .qdisc(try QdiscInfo(message))
        case Int32(RTM_DELQDISC): return .qdiscRemoved(try QdiscInfo(message))
        case Int32(RTM_NEWROUTE): return try RouteInfo(message).map(NetlinkEvent.route)
        case Int32(RTM_DELROUTE): return try RouteInfo(message).map(NetlinkEvent.routeRemoved)
        case NLMSG_DONE: return .dumpDone(sequence: message.sequence)
        default: return nil
        }
    }
}
