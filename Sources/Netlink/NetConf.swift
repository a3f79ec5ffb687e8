import CShims

/// A namespace's IP settings as rtnetlink reports them (`ip netconf show`): read over the node's
/// socket, without a /proc/sys lookup, which walks one dentry per namespace on the machine.
public enum NetConfRequest {
    /// The index meaning the namespace-wide settings, `all` in /proc/sys/net/ipvN/conf.
    public static let allInterfaces: Int32 = NETCONFA_ALL

    /// `ip netconf show`, for `index` (by default the namespace-wide settings), one family:
    /// AF_INET or AF_INET6.
    public static func get(family: Int32, index: Int32 = allInterfaces) -> NetlinkMessage {
        // struct netconfmsg is one byte, the family, padded to 4: the same bytes as rtgenmsg.
        NetlinkMessage(type: RTM_GETNETCONF, flags: 0, header: GenericMessage(family: UInt8(family)),
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
            let (_, attributes) = try reply.decode(GenericMessage.self)
            if let value = attributes[NETCONFA_FORWARDING]?.i32 { return value != 0 }
        }
        return nil
    }
}
