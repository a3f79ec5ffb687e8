import CShims
@testable import Netlink
import Testing

// Captured from iproute2 6.1 (Debian 12) with
//   strace -f -e trace=sendmsg,sendto -xx -s 4096 ip|bridge -n NS …
// in a throwaway namespace where the veth va was ifindex 3 and vb ifindex 2. iproute2 builds and
// sends these bytes before the kernel answers, so they were captured on this project's kernel
// too, which refuses VLAN filtering and 802.1Q (CONFIG_VLAN_8021Q off).
@Suite("Bridges, bridge VLANs and 802.1Q links byte-identical to iproute2 6.1")
struct BridgeVLANVectorTests {
    @Test("ip link add name br0 index 1073741824 up type bridge stp_state 0")
    func plainBridge() {
        let captured = Captured(type: 0x10, flags: requestAck | createExcl, payload: hex(#"\x00\x00\x00\x00\x00\x00\x00\x40\x01\x00\x00\x00\x01\x00\x00\x00\x08\x00\x03\x00\x62\x72\x30\x00\x1c\x00\x12\x00\x0a\x00\x01\x00\x62\x72\x69\x64\x67\x65\x00\x00\x0c\x00\x02\x00\x08\x00\x05\x00\x00\x00\x00\x00"#))
        expectMatches(LinkRequest.createBridge(name: "br0", index: 1 << 30), captured)
    }

    @Test("ip link add name br2 index 1073741824 up type bridge stp_state 1 vlan_filtering 1")
    func bridgeWithSTPAndVLANFiltering() {
        let captured = Captured(type: 0x10, flags: requestAck | createExcl, payload: hex(#"\x00\x00\x00\x00\x00\x00\x00\x40\x01\x00\x00\x00\x01\x00\x00\x00\x08\x00\x03\x00\x62\x72\x32\x00\x24\x00\x12\x00\x0a\x00\x01\x00\x62\x72\x69\x64\x67\x65\x00\x00\x14\x00\x02\x00\x08\x00\x05\x00\x01\x00\x00\x00\x05\x00\x07\x00\x01\x00\x00\x00"#))
        expectMatches(LinkRequest.createBridge(name: "br2", index: 1 << 30, stp: true, vlanFiltering: true), captured)
    }

    @Test("ip link add link vb name vb.10 index 77 up type vlan id 10", arguments: [
        ("vb.10", Int32(77), UInt16(10), #"\x00\x00\x00\x00\x4d\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x08\x00\x05\x00\x02\x00\x00\x00\x0a\x00\x03\x00\x76\x62\x2e\x31\x30\x00\x00\x00\x18\x00\x12\x00\x08\x00\x01\x00\x76\x6c\x61\x6e\x0c\x00\x02\x00\x06\x00\x01\x00\x0a\x00\x00\x00"#),
        ("vb.4094", Int32(78), UInt16(4094), #"\x00\x00\x00\x00\x4e\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x08\x00\x05\x00\x02\x00\x00\x00\x0c\x00\x03\x00\x76\x62\x2e\x34\x30\x39\x34\x00\x18\x00\x12\x00\x08\x00\x01\x00\x76\x6c\x61\x6e\x0c\x00\x02\x00\x06\x00\x01\x00\xfe\x0f\x00\x00"#),
    ])
    func vlanLink(name: String, index: Int32, vlan: UInt16, payload: String) {
        let captured = Captured(type: 0x10, flags: requestAck | createExcl, payload: hex(payload))
        expectMatches(LinkRequest.createVLAN(name: name, index: index, parent: 2, vlan: vlan), captured)
    }

    @Test("bridge vlan add dev va vid 10 pvid untagged")
    func accessVLAN() {
        let captured = Captured(type: 0x13, flags: requestAck, payload: hex(#"\x07\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x1a\x00\x08\x00\x02\x00\x06\x00\x0a\x00"#))
        expectMatches(BridgeVLANRequest.add(BridgeVLAN(vid: 10, pvid: true, untagged: true), index: 3, interface: "va"), captured)
    }

    @Test("bridge vlan add dev va vid 20")
    func taggedVLAN() {
        let captured = Captured(type: 0x13, flags: requestAck, payload: hex(#"\x07\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x1a\x00\x08\x00\x02\x00\x00\x00\x14\x00"#))
        expectMatches(BridgeVLANRequest.add(BridgeVLAN(vid: 20), index: 3, interface: "va"), captured)
    }

    @Test("bridge vlan del dev va vid 1")
    func deleteDefaultVLAN() {
        let captured = Captured(type: 0x11, flags: requestAck, payload: hex(#"\x07\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x1a\x00\x08\x00\x02\x00\x00\x00\x01\x00"#))
        expectMatches(BridgeVLANRequest.delete(vid: 1, index: 3, interface: "va"), captured)
    }

    @Test("bridge vlan show: RTM_GETLINK on AF_BRIDGE with RTEXT_FILTER_BRVLAN")
    func dumpRequest() {
        // Sent with NLM_F_REQUEST|NLM_F_DUMP (0x301), which NetlinkSocket.dump adds.
        let message = BridgeVLANRequest.dump()
        #expect(message.type == 0x12)
        #expect(message.flags == 0)
        #expect(message.payload == hex(#"\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x1d\x00\x02\x00\x00\x00"#))
    }

    /// What the kernel answers for a port: the request's layout, several VLAN infos in one spec,
    /// and the spanning tree state in IFLA_PROTINFO.
    @Test func portVLANsAreReadBack() throws {
        var writer = AttributeWriter()
        writer.append(header: IfInfoMessage(family: AddressFamily.bridge, index: 3))
        writer.put(IFLA_IFNAME, string: "va")
        writer.nest(IFLA_AF_SPEC) { spec in
            spec.put(IFLA_BRIDGE_VLAN_INFO, bytes: [0x06, 0x00, 0x0a, 0x00])
            spec.put(IFLA_BRIDGE_VLAN_INFO, bytes: [0x00, 0x00, 0x14, 0x00])
        }
        writer.nest(IFLA_PROTINFO) { info in info.put(IFLA_BRPORT_STATE, u8: 1) }
        let bytes = writer.bytes
        let message = ReceivedMessage(type: UInt16(RTM_NEWLINK), flags: 0, sequence: 1, portID: 0, payload: bytes[...])
        let port = try #require(try BridgePort(message))
        #expect(port.index == 3)
        #expect(port.state == 1 && port.stateName == "listening")
        #expect(port.vlans == [BridgeVLAN(vid: 10, pvid: true, untagged: true), BridgeVLAN(vid: 20)])
    }

    /// `ip -d link` facts read from RTM_NEWLINK: a vlan link's id, a bridge's STP and VLAN filtering.
    @Test func linkDetailsAreReadBack() throws {
        func received(_ message: NetlinkMessage) -> ReceivedMessage {
            ReceivedMessage(type: UInt16(RTM_NEWLINK), flags: 0, sequence: 1, portID: 0, payload: message.payload[...])
        }
        let vlan = try LinkInfo(received(LinkRequest.createVLAN(name: "eth0.10", index: 9, parent: 2, vlan: 10)))
        #expect(vlan.kind == "vlan" && vlan.vlanID == 10 && vlan.peerIndex == 2 && vlan.name == "eth0.10")
        let bridge = try LinkInfo(received(LinkRequest.createBridge(name: "br0", index: 5, stp: true, vlanFiltering: true)))
        #expect(bridge.kind == "bridge" && bridge.stpState == 1 && bridge.vlanFiltering == true)
        let plain = try LinkInfo(received(LinkRequest.createBridge(name: "br0", index: 5)))
        #expect(plain.stpState == 0 && plain.vlanFiltering == nil)
    }
}
