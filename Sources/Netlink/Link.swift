import CShims
import NetAddress

/// A network interface as the kernel reports it (RTM_NEWLINK).
public struct LinkInfo: Sendable, Equatable {
    public var index: Int32
    public var name: String
    public var flags: UInt32
    public var mtu: UInt32?
    public var mac: [UInt8]?
    public var alias: String?
    public var kind: String?
    /// IFLA_LINK: for a veth, the peer's index in the peer's namespace.
    public var peerIndex: Int32?
    /// IFLA_LINK_NETNSID: the peer namespace's id as this namespace knows it.
    public var peerNamespaceID: Int32?
    public var operationalState: UInt8?
    public var master: Int32?

    public var isUp: Bool { flags & UInt32(IFF_UP.rawValue) != 0 }
    public var hasCarrier: Bool { flags & UInt32(IFF_LOWER_UP.rawValue) != 0 }
    public var isLoopback: Bool { flags & UInt32(IFF_LOOPBACK.rawValue) != 0 }

    public var operationalStateName: String {
        switch operationalState.map(Int.init) ?? -1 {
        case IF_OPER_UP: return "UP"
        case IF_OPER_DOWN: return "DOWN"
        case IF_OPER_LOWERLAYERDOWN: return "LOWERLAYERDOWN"
        case IF_OPER_DORMANT: return "DORMANT"
        case IF_OPER_NOTPRESENT: return "NOTPRESENT"
        case IF_OPER_TESTING: return "TESTING"
        default: return "UNKNOWN"
        }
    }

    public init(_ message: ReceivedMessage) throws {
        let (header, attributes) = try message.decode(IfInfoMessage.self)
        index = header.index
        flags = header.flags
        name = attributes[IFLA_IFNAME]?.string ?? ""
        mtu = attributes[IFLA_MTU]?.u32
        mac = attributes[IFLA_ADDRESS].map { Array($0.payload) }
        alias = attributes[IFLA_IFALIAS]?.string
        peerIndex = attributes[IFLA_LINK]?.i32
        peerNamespaceID = attributes[IFLA_LINK_NETNSID]?.i32
        operationalState = attributes[IFLA_OPERSTATE]?.u8
        master = attributes[IFLA_MASTER]?.i32
        if let info = try attributes[IFLA_LINKINFO]?.nested() {
            kind = info[IFLA_INFO_KIND]?.string
        }
    }
}

/// One end of a veth pair as it is created: its name, the namespace it is created in (an open
/// namespace fd), and optionally the index it gets there.
public struct VethEnd: Sendable {
    public var name: String
    public var namespaceFD: Int32
    public var index: Int32
    public var mtu: UInt32?
    public var mac: [UInt8]?

    public init(name: String, namespaceFD: Int32, index: Int32 = 0, mtu: UInt32? = nil, mac: [UInt8]? = nil) {
        self.name = name; self.namespaceFD = namespaceFD; self.index = index; self.mtu = mtu; self.mac = mac
    }
}

/// Requests about links, as `ip link` sends them.
public enum LinkRequest {
    /// `ip link add NAME type veth peer name PEER`, with both ends created directly in their
    /// namespaces (IFLA_NET_NS_FD at the top and inside VETH_INFO_PEER), so neither end ever
    /// appears in the namespace of the socket that sends it and nothing has to be moved later.
    /// Only the first end may be created up; the kernel refuses to create the peer up.
    public static func createVeth(_ end: VethEnd, peer: VethEnd, up: Bool = false) -> NetlinkMessage {
        let upFlag = up ? UInt32(IFF_UP.rawValue) : 0
        return NetlinkMessage(
            type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL,
            header: IfInfoMessage(index: end.index, flags: upFlag, change: upFlag),
            summary: "create veth pair \(end.name)/\(peer.name)"
        ) { a in
            put(end, into: &a)
            a.nest(IFLA_LINKINFO) { info in
                info.put(IFLA_INFO_KIND, string: "veth")
                info.nest(IFLA_INFO_DATA) { data in
                    data.nest(VETH_INFO_PEER) { p in
                        p.append(header: IfInfoMessage(index: peer.index))
                        put(peer, into: &p)
                    }
                }
            }
        }
    }

    private static func put(_ end: VethEnd, into a: inout AttributeWriter) {
        a.put(IFLA_IFNAME, string: end.name)
        if let mtu = end.mtu { a.put(IFLA_MTU, u32: mtu) }
        if let mac = end.mac { a.put(IFLA_ADDRESS, bytes: mac) }
        a.put(IFLA_NET_NS_FD, u32: UInt32(bitPattern: end.namespaceFD))
    }

    /// `ip link set dev INDEX [up|down] [mtu N] [address MAC] [alias TEXT]`: only what is given changes.
    public static func set(index: Int32, name: String, up: Bool? = nil, mtu: UInt32? = nil,
                           mac: [UInt8]? = nil, alias: String? = nil) -> NetlinkMessage {
        let upFlag = UInt32(IFF_UP.rawValue)
        var words: [String] = []
        if let up { words.append(up ? "up" : "down") }
        if let mtu { words.append("mtu \(mtu)") }
        if alias != nil { words.append("alias") }
        if mac != nil { words.append("address") }
        return NetlinkMessage(
            type: RTM_NEWLINK, flags: 0,
            header: IfInfoMessage(index: index, flags: up == true ? upFlag : 0, change: up == nil ? 0 : upFlag),
            summary: "set \(name) \(words.joined(separator: " "))"
        ) { a in
            if let mtu { a.put(IFLA_MTU, u32: mtu) }
            if let mac { a.put(IFLA_ADDRESS, bytes: mac) }
            if let alias { a.put(IFLA_IFALIAS, string: alias) }
        }
    }

    /// `ip link del dev INDEX`.
    public static func delete(index: Int32, name: String) -> NetlinkMessage {
        NetlinkMessage(type: RTM_DELLINK, flags: 0, header: IfInfoMessage(index: index),
                       summary: "delete link \(name)")
    }

    /// `ip link show`: every link of the socket's namespace.
    public static func dump() -> NetlinkMessage {
        NetlinkMessage(type: RTM_GETLINK, flags: 0, header: IfInfoMessage(), summary: "list links") { a in
            // Without this the kernel adds per-VF statistics nobody here reads.
            a.put(IFLA_EXT_MASK, u32: UInt32(RTEXT_FILTER_VF))
        }
    }
}

extension NetlinkSocket {
    public func links() throws -> [LinkInfo] {
        try dump(LinkRequest.dump()).filter { $0.type == UInt16(RTM_NEWLINK) }.map(LinkInfo.init)
    }
}
