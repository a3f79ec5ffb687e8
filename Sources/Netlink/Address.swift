import CShims
import NetAddress

/// An interface address as the kernel reports it (RTM_NEWADDR).
public struct AddressInfo: Sendable, Equatable {
    public var index: UInt32
    public var prefix: IPPrefix
    public var scope: UInt8
    public var flags: UInt32
    public var label: String?

    public var family: IPAddress.Family { prefix.family }

    public init?(_ message: ReceivedMessage) throws {
        let (header, attributes) = try message.decode(IfAddrMessage.self)
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS the peer on point-to-point links.
        guard let raw = attributes[IFA_LOCAL] ?? attributes[IFA_ADDRESS],
              let address = IPAddress(bytes: raw.payload),
              let prefix = IPPrefix(address: address, length: Int(header.prefixLength)) else { return nil }
        index = header.index
        self.prefix = prefix
        scope = header.scope
        flags = attributes[IFA_FLAGS]?.u32 ?? UInt32(header.flags)
        label = attributes[IFA_LABEL]?.string
    }
}

/// Requests about addresses, as `ip address` sends them.
public enum AddressRequest {
    /// `ip address add PREFIX dev INDEX`. IPv6 addresses skip duplicate address detection by
    /// default (`nodad`): in a lab the namespaces are ours, and DAD would hold the address
    /// "tentative" for a second or more, so the first ping after deploy would fail.
    public static func add(_ prefix: IPPrefix, index: UInt32, interface: String, skipDAD: Bool = true) -> NetlinkMessage {
        let isV6 = prefix.family == .ipv6
        let flags: UInt32 = isV6 && skipDAD ? UInt32(IFA_F_NODAD) : 0
        return NetlinkMessage(
            type: RTM_NEWADDR, flags: NLM_F_CREATE | NLM_F_EXCL,
            header: IfAddrMessage(family: isV6 ? AddressFamily.inet6 : AddressFamily.inet,
                                  prefixLength: UInt8(prefix.length), flags: UInt8(truncatingIfNeeded: flags),
                                  index: index),
            summary: "add address \(prefix) to \(interface)"
        ) { a in
            a.put(IFA_LOCAL, bytes: prefix.address.bytes)
            a.put(IFA_ADDRESS, bytes: prefix.address.bytes)
            // As iproute2: flags that fit the header's byte go there only.
            if flags > 0xff { a.put(IFA_FLAGS, u32: flags) }
        }
    }

    /// `ip address del PREFIX dev INDEX`.
    public static func delete(_ prefix: IPPrefix, index: UInt32, interface: String) -> NetlinkMessage {
        NetlinkMessage(
            type: RTM_DELADDR, flags: 0,
            header: IfAddrMessage(family: prefix.family == .ipv6 ? AddressFamily.inet6 : AddressFamily.inet,
                                  prefixLength: UInt8(prefix.length), index: index),
            summary: "delete address \(prefix) from \(interface)"
        ) { a in
            a.put(IFA_LOCAL, bytes: prefix.address.bytes)
        }
    }

    public static func dump(family: UInt8 = AddressFamily.unspecified) -> NetlinkMessage {
        NetlinkMessage(type: RTM_GETADDR, flags: 0, header: IfAddrMessage(family: family),
                       summary: "list addresses")
    }
}

extension NetlinkSocket {
    /// IPv4, then IPv6: two dumps, so that IPv6 address changes (a link-local address finishing
    /// duplicate address detection) do not interrupt the reading of a long IPv4 list.
    public func addresses() throws -> [AddressInfo] {
        try [AddressFamily.inet, AddressFamily.inet6].flatMap { family in
            try dump(AddressRequest.dump(family: family)).filter { $0.type == UInt16(RTM_NEWADDR) }.compactMap(AddressInfo.init)
        }
    }
}
