import CShims

/// struct netconfmsg: one byte, the address family, padded to 4 as attributes follow.
public struct NetConfMessage: NetlinkHeader, Equatable {
    public static let size = 4
    public var family: UInt8

    public init(family: UInt8) { self.family = family }

    public func encoded() -> [UInt8] { [family, 0, 0, 0] }

    public init(reader r: inout ByteReader) throws {
        family = try r.read(UInt8.self, "ncm_family"); try r.skip(3)
    }
}

/// A namespace's IP settings as rtnetlink reports them (`ip netconf show`): read over the node's
/// socket, without a /proc/sys lookup, which walks one dentry per namespace on the machine.
public enum NetConfRequest {
    /// The index meaning the namespace-wide settings, `all` in /proc/sys/net/ipvN/conf.
    public static let allInterfaces: Int32 = NETCONFA_ALL

    /// `ip netconf show`, for `index` (by default the namespace-wide settings), one family:
    /// AF_INET or AF_INET6.
    public static func get(family: Int32, index: Int32 = allInterfaces) -> NetlinkMessage {
        NetlinkMessage(type: RTM_GETNETCONF, flags: 0, header: NetConfMessage(family: UInt8(family)),
                       summary: "netconf show (\(family == AF_INET6 ? "ipv6" : "ipv4"))") { a in
            a.put(NETCONFA_IFINDEX, u32: UInt32(bitPattern: index))
        }
    }
}

extension NetlinkSocket {
    /// Whether the socket's namespace forwards the family (AF_INET or AF_INET6): its `all`
    /// setting, which for IPv4 is net.ipv4.ip_forward. nil when the kernel does not say (IPv6
    /// disabled).
    public func forwarding(family: Int32) throws -> Bool? {
        for reply in try get(NetConfRequest.get(family: family)) where reply.type == UInt16(RTM_NEWNETCONF) {
            let (_, attributes) = try reply.decode(NetConfMessage.self)
            if let value = attributes[NETCONFA_FORWARDING]?.i32 { return value != 0 }
        }
        return nil
    }
}
