import CShims

/// One VLAN of a bridge port (struct bridge_vlan_info), as `bridge vlan show` lists it.
public struct BridgeVLAN: Sendable, Equatable {
    public var vid: UInt16
    /// Untagged frames arriving on the port are put in this VLAN.
    public var pvid: Bool
    /// Frames of this VLAN leave the port without their tag.
    public var untagged: Bool

    public init(vid: UInt16, pvid: Bool = false, untagged: Bool = false) {
        self.vid = vid; self.pvid = pvid; self.untagged = untagged
    }

    var flags: UInt16 {
        (pvid ? UInt16(BRIDGE_VLAN_INFO_PVID) : 0) | (untagged ? UInt16(BRIDGE_VLAN_INFO_UNTAGGED) : 0)
    }
}

/// One bridge port as `bridge vlan show` and `bridge link show` read it (an AF_BRIDGE
/// RTM_NEWLINK): its VLANs (IFLA_AF_SPEC) and its spanning tree state (IFLA_PROTINFO).
public struct BridgePort: Sendable, Equatable {
    public var index: Int32
    public var vlans: [BridgeVLAN]
    /// IFLA_BRPORT_STATE: BR_STATE_DISABLED (0), LISTENING, LEARNING, FORWARDING (3), BLOCKING.
    public var state: UInt8?

    /// Frames cross it (BR_STATE_FORWARDING); nil when the kernel gave no state.
    public var isForwarding: Bool? { state.map { $0 == 3 } }

    /// As `bridge link show` prints it: "forwarding", "listening", …
    public var stateName: String? {
        state.map { ["disabled", "listening", "learning", "forwarding", "blocking"].indices.contains(Int($0))
            ? ["disabled", "listening", "learning", "forwarding", "blocking"][Int($0)] : "state \($0)" }
    }

    /// nil for a message that is not about a bridge port.
    public init?(_ message: ReceivedMessage) throws {
        let (header, attributes) = try message.decode(IfInfoMessage.self)
        guard header.family == AddressFamily.bridge else { return nil }
        index = header.index
        vlans = []
        state = try attributes[IFLA_PROTINFO]?.nested()[IFLA_BRPORT_STATE]?.u8
        guard let spec = try attributes[IFLA_AF_SPEC]?.nested() else { return }
        for entry in spec.every(IFLA_BRIDGE_VLAN_INFO) {
            var reader = ByteReader(entry.payload)
            let flags = try reader.read(UInt16.self, "bridge_vlan_info.flags")
            let vid = try reader.read(UInt16.self, "bridge_vlan_info.vid")
            vlans.append(BridgeVLAN(vid: vid, pvid: flags & UInt16(BRIDGE_VLAN_INFO_PVID) != 0,
                                    untagged: flags & UInt16(BRIDGE_VLAN_INFO_UNTAGGED) != 0))
        }
    }
}

/// Requests about the VLANs of bridge ports, as the `bridge vlan` command sends them.
public enum BridgeVLANRequest {
    /// `bridge vlan add dev PORT vid VID [pvid] [untagged]`: RTM_SETLINK on AF_BRIDGE.
    public static func add(_ vlan: BridgeVLAN, index: Int32, interface: String) -> NetlinkMessage {
        let words = (vlan.pvid ? " pvid" : "") + (vlan.untagged ? " untagged" : "")
        return request(type: RTM_SETLINK, vlan, index: index, summary: "bridge vlan add dev \(interface) vid \(vlan.vid)\(words)")
    }

    /// `bridge vlan del dev PORT vid VID`: RTM_DELLINK on AF_BRIDGE (the port itself stays).
    public static func delete(vid: UInt16, index: Int32, interface: String) -> NetlinkMessage {
        request(type: RTM_DELLINK, BridgeVLAN(vid: vid), index: index, summary: "bridge vlan del dev \(interface) vid \(vid)")
    }

    private static func request(type: Int, _ vlan: BridgeVLAN, index: Int32, summary: String) -> NetlinkMessage {
        NetlinkMessage(type: type, flags: 0, header: IfInfoMessage(family: AddressFamily.bridge, index: index), summary: summary) { a in
            a.nest(IFLA_AF_SPEC) { spec in
                var info = ByteWriter()
                info.append(vlan.flags)
                info.append(vlan.vid)
                spec.put(IFLA_BRIDGE_VLAN_INFO, bytes: info.bytes)
            }
        }
    }

    /// `bridge vlan show`: every bridge port of the socket's namespace with its VLANs (and its
    /// spanning tree state, which the kernel adds to each port's message).
    public static func dump() -> NetlinkMessage {
        NetlinkMessage(type: RTM_GETLINK, flags: 0, header: IfInfoMessage(family: AddressFamily.bridge),
                       summary: "list bridge vlans") { a in
            a.put(IFLA_EXT_MASK, u32: UInt32(RTEXT_FILTER_BRVLAN))
        }
    }
}

extension NetlinkSocket {
    public func bridgePorts() throws -> [BridgePort] {
        try dump(BridgeVLANRequest.dump()).filter { $0.type == UInt16(RTM_NEWLINK) }.compactMap(BridgePort.init)
    }
}
