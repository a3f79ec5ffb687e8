import CShims
import NetAddress
@testable import Netlink
import Testing

// Request bytes captured from iproute2 6.1 (Debian 12) with
//   strace -f -e trace=sendmsg -xx -s 4096 ip -n NS …
// in throwaway namespaces, where the device was ifindex 3 and the namespace fds of
// `ip link add … netns X … netns Y` were 4 and 5. Each vector is the payload after the 16-byte
// nlmsghdr; the header's type and flags are compared separately (seq and pid differ per run).
// iproute2 always sets NLM_F_REQUEST|NLM_F_ACK; our socket adds those two at send time, so the
// flags compared are `message.flags | NLM_F_REQUEST | NLM_F_ACK`.

let requestAck = UInt16(NLM_F_REQUEST | NLM_F_ACK)
let createExcl = UInt16(NLM_F_CREATE | NLM_F_EXCL)

/// What iproute2 sent: nlmsg_type, nlmsg_flags and the payload after the nlmsghdr.
struct Captured {
    var type: UInt16
    var flags: UInt16
    var payload: [UInt8]
}

/// Compares a request with a capture: the flags as they go on the wire, the type, the payload,
/// and that `encoded()` frames that payload with a correct nlmsghdr.
func expectMatches(_ message: NetlinkMessage, _ captured: Captured, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(message.type == captured.type, "nlmsg_type", sourceLocation: sourceLocation)
    #expect(message.flags | requestAck == captured.flags, "nlmsg_flags on the wire", sourceLocation: sourceLocation)
    #expect(message.payload == captured.payload, "payload", sourceLocation: sourceLocation)
    let wire = message.encoded(sequence: 0x0102_0304, portID: 0)
    #expect(Array(wire[16...]) == captured.payload, "encoded() body", sourceLocation: sourceLocation)
    #expect(wire.count == 16 + captured.payload.count, sourceLocation: sourceLocation)
    #expect(Array(wire[0..<4]) == le32(UInt32(16 + captured.payload.count)), "nlmsg_len", sourceLocation: sourceLocation)
}

func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }

func prefix(_ text: String) -> IPPrefix {
    guard let p = IPPrefix(text) else { fatalError("bad test prefix \(text)") }
    return p
}

func address(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { fatalError("bad test address \(text)") }
    return a
}

@Suite("Requests byte-identical to iproute2 6.1")
struct IPRoute2VectorTests {
    // MARK: addresses

    @Test("ip addr add 192.168.0.1/24 dev IF")
    func addressAddV4() {
        // ip -n NS addr add 192.168.0.1/24 dev tst0   (tst0 = ifindex 3)
        let captured = Captured(type: 0x14, flags: requestAck | createExcl, payload: [
            0x02, 0x18, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x02, 0x00, 0xc0, 0xa8, 0x00, 0x01,
            0x08, 0x00, 0x01, 0x00, 0xc0, 0xa8, 0x00, 0x01,
        ])
        expectMatches(AddressRequest.add(prefix("192.168.0.1/24"), index: 3, interface: "tst0"), captured)
    }

    @Test("ip addr add fd00::1/64 dev IF nodad")
    func addressAddV6NoDAD() {
        // ip -n NS addr add fd00::1/64 dev tst0 nodad   (IFA_F_NODAD in ifa_flags, no IFA_FLAGS)
        let captured = Captured(type: 0x14, flags: requestAck | createExcl, payload: [
            0x0a, 0x40, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0xfd, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x14, 0x00, 0x01, 0x00,
            0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        ])
        expectMatches(AddressRequest.add(prefix("fd00::1/64"), index: 3, interface: "tst0"), captured)
        // Without skipDAD only the header's flag byte differs.
        let withDAD = AddressRequest.add(prefix("fd00::1/64"), index: 3, interface: "tst0", skipDAD: false)
        #expect(withDAD.payload[2] == 0)
        #expect(Array(withDAD.payload[3...]) == Array(captured.payload[3...]))
    }

    // MARK: routes

    @Test("ip route add default via 192.168.0.254")
    func routeAddDefault() {
        // ip -n NS route add default via 192.168.0.254
        let captured = Captured(type: 0x18, flags: requestAck | createExcl, payload: [
            0x02, 0x00, 0x00, 0x00, 0xfe, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x05, 0x00,
            0xc0, 0xa8, 0x00, 0xfe,
        ])
        let route = RouteInfo(destination: prefix("0.0.0.0/0"), gateway: address("192.168.0.254"))
        expectMatches(RouteRequest.add(route, describedAs: "default via 192.168.0.254"), captured)
    }

    @Test("ip route add 10.0.0.0/24 via 172.16.0.2")
    func routeAddVia() {
        // ip -n NS route add 10.0.0.0/24 via 172.16.0.2
        let captured = Captured(type: 0x18, flags: requestAck | createExcl, payload: [
            0x02, 0x18, 0x00, 0x00, 0xfe, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00,
            0x0a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x05, 0x00, 0xac, 0x10, 0x00, 0x02,
        ])
        let route = RouteInfo(destination: prefix("10.0.0.0/24"), gateway: address("172.16.0.2"))
        expectMatches(RouteRequest.add(route, describedAs: "10.0.0.0/24 via 172.16.0.2"), captured)
        // Host bits in the destination are dropped, as `ip route` refuses/normalises them.
        let sloppy = RouteInfo(destination: prefix("10.0.0.77/24"), gateway: address("172.16.0.2"))
        #expect(RouteRequest.add(sloppy, describedAs: "x").payload == captured.payload)
    }

    // ip -n NS route add 10.0.1.0/24 via 172.16.0.2 dev tst0 metric 10   (tst0 = ifindex 3)
    // iproute2 order: RTA_DST, RTA_GATEWAY, RTA_PRIORITY, RTA_OIF.
    static let routeWithDevMetric = Captured(type: 0x18, flags: requestAck | createExcl, payload: [
        0x02, 0x18, 0x00, 0x00, 0xfe, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00,
        0x0a, 0x00, 0x01, 0x00, 0x08, 0x00, 0x05, 0x00, 0xac, 0x10, 0x00, 0x02, 0x08, 0x00, 0x06, 0x00,
        0x0a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00,
    ])

    static func routeWithDevMetricRequest() -> NetlinkMessage {
        let route = RouteInfo(destination: prefix("10.0.1.0/24"), gateway: address("172.16.0.2"), outputIndex: 3, metric: 10)
        return RouteRequest.add(route, describedAs: "10.0.1.0/24 via 172.16.0.2 dev tst0 metric 10")
    }

    @Test("ip route add 10.0.1.0/24 via 172.16.0.2 dev IF metric 10: exact bytes")
    func routeAddViaDevMetricExact() {
        // iproute2's order: DST, GATEWAY, PRIORITY, OIF.
        expectMatches(Self.routeWithDevMetricRequest(), Self.routeWithDevMetric)
    }

    @Test("ip route add … dev IF metric 10: same header and attributes, any order")
    func routeAddViaDevMetricSameAttributes() throws {
        let ours = Self.routeWithDevMetricRequest()
        let theirs = Self.routeWithDevMetric
        #expect(ours.type == theirs.type)
        #expect(ours.flags | requestAck == theirs.flags)
        #expect(ours.payload.count == theirs.payload.count)
        #expect(Array(ours.payload[0..<12]) == Array(theirs.payload[0..<12]), "rtmsg")
        #expect(try AttributeTree(ours.payload[12...]) == AttributeTree(theirs.payload[12...]))
    }

    @Test("ip -6 route add fd01::/64 via fd00::2")
    func routeAddV6() {
        // ip -n NS -6 route add fd01::/64 via fd00::2
        let captured = Captured(type: 0x18, flags: requestAck | createExcl, payload: [
            0x0a, 0x40, 0x00, 0x00, 0xfe, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00,
            0xfd, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x14, 0x00, 0x05, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x02,
        ])
        let route = RouteInfo(destination: prefix("fd01::/64"), gateway: address("fd00::2"))
        expectMatches(RouteRequest.add(route, describedAs: "fd01::/64 via fd00::2"), captured)
    }

    // MARK: links

    @Test("ip link set IF up")
    func linkUp() {
        // ip -n NS link set tst0 up: ifi_flags = IFF_UP, ifi_change = IFF_UP, no attributes
        let captured = Captured(type: 0x10, flags: requestAck, payload: [
            0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        ])
        expectMatches(LinkRequest.set(index: 3, name: "tst0", up: true), captured)
    }

    @Test("ip link set IF down")
    func linkDown() {
        // ip -n NS link set tst0 down: ifi_flags = 0, ifi_change = IFF_UP
        let captured = Captured(type: 0x10, flags: requestAck, payload: [
            0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        ])
        expectMatches(LinkRequest.set(index: 3, name: "tst0", up: false), captured)
    }

    @Test("ip link set IF mtu 1400")
    func linkMTU() {
        // ip -n NS link set tst0 mtu 1400: IFLA_MTU, ifi_change = 0 (up/down untouched)
        let captured = Captured(type: 0x10, flags: requestAck, payload: [
            0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x04, 0x00, 0x78, 0x05, 0x00, 0x00,
        ])
        expectMatches(LinkRequest.set(index: 3, name: "tst0", mtu: 1400), captured)
    }

    @Test("ip link set IF alias TEXT")
    func linkAlias() {
        // ip -n NS link set tst0 alias nslab-test: IFLA_IFALIAS of length 14 = 4 + 10, i.e. the
        // text WITHOUT a terminating NUL (iproute2: addattr_l(…, IFLA_IFALIAS, alias, strlen(alias))).
        let captured = Captured(type: 0x10, flags: requestAck, payload: [
            0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x0e, 0x00, 0x14, 0x00, 0x6e, 0x73, 0x6c, 0x61, 0x62, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x00, 0x00,
        ])
        let ours = LinkRequest.set(index: 3, name: "tst0", alias: "nslab-test")
        // No NUL, as iproute2: the kernel's dev_set_alias stores nla_len bytes, so a NUL would
        // become part of the alias and a 255-character alias would be refused.
        expectMatches(ours, captured)
    }

    @Test("ip link del IF")
    func linkDelete() {
        // ip -n NS link del tst0: RTM_DELLINK, bare ifinfomsg
        let captured = Captured(type: 0x11, flags: requestAck, payload: [
            0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ])
        expectMatches(LinkRequest.delete(index: 3, name: "tst0"), captured)
    }

    // MARK: veth

    // ip -n NS link add vc netns X type veth peer name vd netns Y   (X opened as fd 4, Y as fd 5)
    // iproute2 order, top and inside VETH_INFO_PEER: IFLA_NET_NS_FD, then IFLA_IFNAME.
    static let vethInNamespaces = Captured(type: 0x10, flags: requestAck | createExcl, payload: [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x1c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07, 0x00, 0x03, 0x00, 0x76, 0x63, 0x00, 0x00,
        0x34, 0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x00, 0x76, 0x65, 0x74, 0x68, 0x28, 0x00, 0x02, 0x00,
        0x24, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1c, 0x00, 0x05, 0x00, 0x00, 0x00, 0x07, 0x00, 0x03, 0x00,
        0x76, 0x64, 0x00, 0x00,
    ])

    // ip -n NS link add va type veth peer name vb   (no namespaces: no IFLA_NET_NS_FD at all)
    static let vethPlain = Captured(type: 0x10, flags: requestAck | createExcl, payload: [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x07, 0x00, 0x03, 0x00, 0x76, 0x61, 0x00, 0x00, 0x2c, 0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x00,
        0x76, 0x65, 0x74, 0x68, 0x20, 0x00, 0x02, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x03, 0x00,
        0x76, 0x62, 0x00, 0x00,
    ])

    // ip -n NS link add vc netns X numtxqueues 1 numrxqueues 1 type veth peer name vd netns Y numtxqueues 1 numrxqueues 1
    static let vethOneQueue = Captured(type: 0x10, flags: requestAck | createExcl, payload: [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x1c, 0x00, 0x04, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1f, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x03, 0x00, 0x76, 0x63, 0x00, 0x00,
        0x44, 0x00, 0x12, 0x00, 0x08, 0x00, 0x01, 0x00, 0x76, 0x65, 0x74, 0x68, 0x38, 0x00, 0x02, 0x00,
        0x34, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1c, 0x00, 0x05, 0x00, 0x00, 0x00, 0x08, 0x00, 0x1f, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x03, 0x00,
        0x76, 0x64, 0x00, 0x00,
    ])

    @Test("ip link add A netns X numtxqueues 1 numrxqueues 1 type veth peer …: exact bytes")
    func vethWithOneQueue() {
        expectMatches(LinkRequest.createVeth(VethEnd(name: "vc", namespaceFD: 4, queues: 1),
                                             peer: VethEnd(name: "vd", namespaceFD: 5, queues: 1)), Self.vethOneQueue)
    }

    static func vethRequest() -> NetlinkMessage {
        LinkRequest.createVeth(VethEnd(name: "vc", namespaceFD: 4), peer: VethEnd(name: "vd", namespaceFD: 5))
    }

    @Test("ip link add A netns X type veth peer name B netns Y: exact bytes")
    func vethInNamespacesExact() {
        expectMatches(Self.vethRequest(), Self.vethInNamespaces)
    }

    @Test("ip link add A netns X type veth peer name B netns Y: same tree, any order")
    func vethInNamespacesSameTree() throws {
        let ours = Self.vethRequest()
        let theirs = Self.vethInNamespaces
        #expect(ours.type == theirs.type)
        #expect(ours.flags | requestAck == theirs.flags)
        #expect(ours.payload.count == theirs.payload.count)
        #expect(Array(ours.payload[0..<16]) == Array(theirs.payload[0..<16]), "ifinfomsg")
        // Nest lengths are part of the comparison: a wrong one changes the parsed tree.
        // kindNUL: the trailing NUL of IFLA_INFO_KIND is dropped on both sides (see the test below).
        #expect(try AttributeTree(ours.payload[16...], veth: true, kindNUL: false)
                == AttributeTree(theirs.payload[16...], veth: true, kindNUL: false))
    }

    @Test("ip link add A type veth peer name B (no netns)")
    func vethPlain() throws {
        let ours = LinkRequest.createVeth(VethEnd(name: "va"), peer: VethEnd(name: "vb"))
        expectMatches(ours, Self.vethPlain)
    }

    @Test("IFLA_INFO_KIND as iproute2 sends it: \"veth\" without NUL")
    func vethKindWithoutNUL() throws {
        // iproute2 (ip/iplink.c): addattr_l(&req.n, sizeof(req), IFLA_INFO_KIND, type, strlen(type)),
        // captured as 08 00 01 00 76 65 74 68. The kernel accepts both (nla_strscpy).
        let theirs = try AttributeTree(Self.vethInNamespaces.payload[16...], veth: true)
        let ours = try AttributeTree(Self.vethRequest().payload[16...], veth: true)
        let path = [UInt16(IFLA_LINKINFO), UInt16(IFLA_INFO_KIND)]
        #expect(theirs.find(path: path) == .leaf(UInt16(IFLA_INFO_KIND), Array("veth".utf8)))
        #expect(ours.find(path: path) == .leaf(UInt16(IFLA_INFO_KIND), Array("veth".utf8)))
    }

    @Test("createVeth up sets IFF_UP on the first end only")
    func vethUp() throws {
        let message = LinkRequest.createVeth(VethEnd(name: "vc", namespaceFD: 4), peer: VethEnd(name: "vd", namespaceFD: 5), up: true)
        #expect(Array(message.payload[8..<16]) == [1, 0, 0, 0, 1, 0, 0, 0])
        // The peer's ifinfomsg (inside LINKINFO/INFO_DATA/PEER) stays all zero: the kernel refuses a peer created up.
        let tree = try AttributeTree(message.payload[16...], veth: true)
        guard case .nest(_, let header, _)? = tree.find(path: [UInt16(IFLA_LINKINFO), UInt16(IFLA_INFO_DATA), UInt16(VETH_INFO_PEER)]) else {
            Issue.record("no VETH_INFO_PEER in \(tree)")
            return
        }
        #expect(header == [UInt8](repeating: 0, count: 16))
    }
}

/// A parsed attribute tree, sorted by type at each level (stable for equal types), so that two
/// encodings can be compared regardless of attribute order. `veth: true` knows which attributes
/// of an RTM_NEWLINK veth request are nests and that VETH_INFO_PEER starts with an ifinfomsg.
struct AttributeTree: Equatable, CustomStringConvertible {
    indirect enum Node: Equatable {
        case leaf(UInt16, [UInt8])
        case nest(UInt16, header: [UInt8], [Node])

        var type: UInt16 {
            switch self {
            case .leaf(let t, _), .nest(let t, _, _): return t
            }
        }
    }

    var nodes: [Node]

    /// `kindNUL: false` drops trailing NULs of IFLA_INFO_KIND, to compare "veth" with "veth\0".
    init(_ bytes: ArraySlice<UInt8>, veth: Bool = false, kindNUL: Bool = true) throws {
        nodes = try AttributeTree.parse(bytes, path: [], veth: veth, kindNUL: kindNUL)
    }

    private init(nodes: [Node]) { self.nodes = nodes }

    private static func parse(_ bytes: ArraySlice<UInt8>, path: [UInt16], veth: Bool, kindNUL: Bool) throws -> [Node] {
        let linkinfo = UInt16(IFLA_LINKINFO), data = UInt16(IFLA_INFO_DATA), peer = UInt16(VETH_INFO_PEER)
        var out: [Node] = []
        for a in try Attributes(parsing: bytes).all {
            let here = path + [a.type]
            if veth, here == [linkinfo] || here == [linkinfo, data] {
                out.append(.nest(a.type, header: [], try parse(a.payload, path: here, veth: veth, kindNUL: kindNUL)))
            } else if veth, here == [linkinfo, data, peer] {
                let header = Array(a.payload.prefix(16))
                out.append(.nest(a.type, header: header, try parse(a.payload.dropFirst(16), path: here, veth: veth, kindNUL: kindNUL)))
            } else if veth, !kindNUL, here == [linkinfo, UInt16(IFLA_INFO_KIND)] {
                out.append(.leaf(a.type, Array(a.payload.prefix { $0 != 0 })))
            } else {
                out.append(.leaf(a.type, Array(a.payload)))
            }
        }
        return out.enumerated().sorted { ($0.element.type, $0.offset) < ($1.element.type, $1.offset) }.map(\.element)
    }

    func removing(type: UInt16) -> AttributeTree {
        func strip(_ nodes: [Node]) -> [Node] {
            nodes.compactMap { node in
                switch node {
                case .leaf(let t, _): return t == type ? nil : node
                case .nest(let t, let h, let children): return t == type ? nil : .nest(t, header: h, strip(children))
                }
            }
        }
        return AttributeTree(nodes: strip(nodes))
    }

    func find(path: [UInt16]) -> Node? {
        var level = nodes
        var found: Node?
        for type in path {
            guard let node = level.first(where: { $0.type == type }) else { return nil }
            found = node
            if case .nest(_, _, let children) = node { level = children } else { level = [] }
        }
        return found
    }

    var description: String { "\(nodes)" }
}
