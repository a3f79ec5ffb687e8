import CShims

/// The ids a namespace gives other namespaces (`ip netns list-id`): a veth's IFLA_LINK_NETNSID
/// names its peer's namespace by such an id, which only the namespace holding the veth can
/// translate.
public enum NamespaceIDRequest {
    /// `ip netns id` asked from the socket's namespace about the namespace open at `fd`.
    public static func get(namespaceFD fd: Int32) -> NetlinkMessage {
        // struct rtgenmsg: one byte of family, padded to 4.
        NetlinkMessage(type: RTM_GETNSID, flags: 0, header: GenericMessage(family: UInt8(AF_UNSPEC)),
                       summary: "netns id (fd \(fd))") { a in
            a.put(NETNSA_FD, u32: UInt32(bitPattern: fd))
        }
    }
}

extension NetlinkSocket {
    /// The id the socket's namespace gives the namespace open at `fd`; nil when it has given it
    /// none (no veth or other link joins the two).
    public func namespaceID(of fd: Int32) throws -> Int32? {
        for reply in try get(NamespaceIDRequest.get(namespaceFD: fd)) where reply.type == UInt16(RTM_NEWNSID) {
            let (_, attributes) = try reply.decode(GenericMessage.self)
            if let id = attributes[NETNSA_NSID]?.i32, id >= 0 { return id }
        }
        return nil
    }
}
