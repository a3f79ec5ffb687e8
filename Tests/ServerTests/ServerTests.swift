import CShims
import Foundation
import Lab
import NetAddress
import Netlink
@testable import Server
import Topology
import Testing

@Suite("serve: who may look and who may act")
struct SecurityTests {
    @Test func loopbackAddresses() {
        for host in ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"] { #expect(ServeSecurity.isLoopback(host), "\(host)") }
        for host in ["0.0.0.0", "::", "192.0.2.1", "10.0.0.1", "example.com", "", "localhost.example"] {
            #expect(!ServeSecurity.isLoopback(host), "\(host)")
        }
    }

    @Test func hostHeaderMustBeAnAddressOrLocalhost() {
        let security = ServeSecurity(allowActions: false, token: nil)
        for host in ["127.0.0.1:8080", "127.0.0.1", "[::1]:8080", "localhost:8080", "LOCALHOST", "192.0.2.7:80"] {
            #expect(throws: Never.self, "\(host)") { try security.checkHost(host) }
        }
        for host in ["attacker.example:8080", "attacker.example", "127.0.0.1.nip.io:8080"] {
            #expect(throws: ServeSecurity.Refusal.self, "\(host)") { try security.checkHost(host) }
        }
        #expect(throws: ServeSecurity.Refusal(status: 400, message: "a Host header is required")) { try security.checkHost(nil) }
    }

    @Test func postsFromOtherSitesAreRefused() {
        let security = ServeSecurity(allowActions: true, token: "t")
        #expect(throws: Never.self) { try security.checkOrigin(nil, host: "127.0.0.1:8080") }
        #expect(throws: Never.self) { try security.checkOrigin("http://127.0.0.1:8080", host: "127.0.0.1:8080") }
        for origin in ["http://attacker.example", "null", "http://127.0.0.1:9999", "https://127.0.0.1:8080"] {
            #expect(throws: ServeSecurity.Refusal.self, "\(origin)") { try security.checkOrigin(origin, host: "127.0.0.1:8080") }
        }
    }

    @Test func actionsNeedTheFlagAndTheToken() {
        let readOnly = ServeSecurity(allowActions: false, token: "ignored-without-the-flag")
        #expect(readOnly.token == nil)
        let refused = #expect(throws: ServeSecurity.Refusal.self) { try readOnly.checkAction(authorization: "Bearer ignored-without-the-flag") }
        #expect(refused?.status == 403)

        let token = ServeSecurity.randomToken()
        #expect(token.count == 64 && token.allSatisfy(\.isHexDigit))
        #expect(token != ServeSecurity.randomToken())
        let security = ServeSecurity(allowActions: true, token: token)
        #expect((#expect(throws: ServeSecurity.Refusal.self) { try security.checkAction(authorization: nil) })?.status == 401)
        #expect((#expect(throws: ServeSecurity.Refusal.self) { try security.checkAction(authorization: token) })?.status == 401)
        #expect((#expect(throws: ServeSecurity.Refusal.self) { try security.checkAction(authorization: "Bearer x\(token)") })?.status == 403)
        #expect((#expect(throws: ServeSecurity.Refusal.self) { try security.checkAction(authorization: "Bearer \(token.dropLast())") })?.status == 403)
        #expect(throws: Never.self) { try security.checkAction(authorization: "Bearer \(token)") }
    }
}

@Suite("serve: a lab kept current by netlink events")
struct LiveLabTests {
    /// Two hosts on one link, as ObservedLab reads them from the kernel: lo and a veth end each,
    /// made from the netlink messages the kernel sends.
    static func lab() throws -> LiveLab {
        func link(_ index: Int32, _ name: String, kind: String?) throws -> LinkInfo {
            let flags = InterfaceFlags.up | InterfaceFlags.lowerUp | (kind == nil ? InterfaceFlags.loopback : 0)
            let message = NetlinkMessage(type: RTM_NEWLINK, flags: 0, header: IfInfoMessage(index: index, flags: flags), summary: "") { a in
                a.put(IFLA_IFNAME, string: name)
                if let kind {
                    a.put(IFLA_OPERSTATE, u8: UInt8(IF_OPER_UP))
                    a.nest(IFLA_LINKINFO) { $0.put(IFLA_INFO_KIND, string: kind) }
                }
            }
            return try LinkInfo(received(message))
        }
        func address(_ text: String, _ index: Int32) throws -> AddressInfo {
            let prefix = try #require(IPPrefix(text))
            return try #require(try AddressInfo(received(AddressRequest.add(prefix, index: UInt32(index), interface: "eth0"))))
        }
        func node(_ name: String, _ index: Int32, _ own: String, peer: String) throws -> ObservedNode {
            let kernel = ObservedKernelState(links: [try link(1, "lo", kind: nil), try link(index, "eth0", kind: "veth")],
                                             addresses: [try address("127.0.0.1/8", 1), try address(own, index),
                                                         try address("fe80::1/64", index)])
            var node = ObservedNode(name: name, namespace: "t-\(name)", kernel: kernel)
            node.peers["eth0"] = InterfaceRef(node: peer, interface: "eth0")
            return node
        }
        return LiveLab(ObservedLab(lab: "two", nodes: [try node("b", 3, "10.0.0.2/30", peer: "a"),
                                                       try node("a", 2, "10.0.0.1/30", peer: "b")]))
    }

    static func received(_ message: NetlinkMessage) throws -> ReceivedMessage {
        try #require(try ReceivedMessage.parse(message.encoded(sequence: 0)[...]).first)
    }

    static func link(_ index: Int32, _ name: String, up: Bool, carrier: Bool, counters: [UInt64]? = nil) throws -> NetlinkEvent {
        let flags = (up ? InterfaceFlags.up : 0) | (carrier ? InterfaceFlags.lowerUp : 0)
        let message = NetlinkMessage(type: RTM_NEWLINK, flags: 0, header: IfInfoMessage(index: index, flags: flags), summary: "") { a in
            a.put(IFLA_IFNAME, string: name)
            a.put(IFLA_OPERSTATE, u8: UInt8(up && carrier ? IF_OPER_UP : IF_OPER_DOWN))
            if let counters {
                var bytes = [UInt8]()
                for value in counters + Array(repeating: 0, count: 20) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
                a.put(IFLA_STATS64, bytes: bytes)
            }
        }
        return .link(try LinkInfo(received(message)))
    }

    @Test func linksAreOncePerPairWithSortedEnds() throws {
        let live = try Self.lab()
        #expect(live.view.links == [LinkView("b:eth0", "a:eth0")])
        #expect(live.view.links.first?.id == "a:eth0--b:eth0")
        #expect(live.view.nodes.map(\.kind) == ["host", "host"])
    }

    @Test func aLinkGoingDownIsOneInterfaceChange() throws {
        var live = try Self.lab()
        let change = live.apply(try Self.link(2, "eth0", up: false, carrier: false), node: "a")
        guard case .interface(let node, let interface) = change else { Issue.record("\(change)"); return }
        #expect(node == "a" && interface.name == "eth0" && !interface.up && !interface.carrier && interface.state == "DOWN")
        #expect(live.apply(try Self.link(2, "eth0", up: false, carrier: false), node: "a") == .none, "the same state again")
        #expect(live.apply(try Self.link(9, "new0", up: true, carrier: true), node: "a") == .structure, "an interface nslab did not read")
    }

    @Test func addressesAndImpairmentsFollowTheKernel() throws {
        var live = try Self.lab()
        let added = NetlinkMessage(type: RTM_NEWADDR, flags: 0,
                                   header: IfAddrMessage(family: AddressFamily.inet, prefixLength: 24, index: 2), summary: "") { a in
            a.put(IFA_LOCAL, bytes: [10, 9, 0, 1])
        }
        let address = try #require(try AddressInfo(Self.received(added)))
        guard case .interface(_, let withAddress) = live.apply(.address(address), node: "a") else { Issue.record("no change"); return }
        #expect(withAddress.addresses == ["10.0.0.1/30", "10.9.0.1/24", "fe80::1/64"])
        guard case .interface(_, let without) = live.apply(.addressRemoved(address), node: "a") else { Issue.record("no change"); return }
        #expect(without.addresses == ["10.0.0.1/30", "fe80::1/64"])

        let tbf = QdiscRequest.replaceTokenBucket(index: 3, name: "eth0", TokenBucketOptions(rate: 1_250_000, burst: 32_768, limit: 50_000))
        let qdisc = try QdiscInfo(Self.received(tbf))
        guard case .interface(_, let impaired) = live.apply(.qdisc(qdisc), node: "b") else { Issue.record("no change"); return }
        #expect(impaired.impairment == "rate=10mbit")
        guard case .interface(_, let cleared) = live.apply(.qdiscRemoved(qdisc), node: "b") else { Issue.record("no change"); return }
        #expect(cleared.impairment == nil)
    }

    @Test func onlyCountersThatMovedAreSent() throws {
        var live = try Self.lab()
        #expect(live.apply(try Self.link(2, "eth0", up: true, carrier: true, counters: [1, 2, 100, 200]), node: "a") == .none)
        #expect(live.apply(try Self.link(3, "eth0", up: true, carrier: true, counters: [5, 5, 500, 500]), node: "b") == .none)
        #expect(Set(live.takeChangedCounters().keys) == ["a:eth0", "b:eth0"])
        _ = live.apply(try Self.link(2, "eth0", up: true, carrier: true, counters: [1, 2, 100, 200]), node: "a")
        _ = live.apply(try Self.link(3, "eth0", up: true, carrier: true, counters: [6, 5, 600, 500]), node: "b")
        let changed = live.takeChangedCounters()
        #expect(Array(changed.keys) == ["b:eth0"])
        #expect(changed["b:eth0"]?.receivedBytes == 600)
    }

    @Test func messagesAreServerSentEvents() throws {
        let live = try Self.lab()
        let text = frame(.interface(lab: "two", node: "a", live.view.nodes[1].interfaces[1]))
        #expect(text.hasPrefix("data: {") && text.hasSuffix("}\n\n") && !text.dropLast(2).contains("\n"))
        let object = try JSONSerialization.jsonObject(with: Data(text.dropFirst("data: ".count).utf8)) as? [String: Any]
        #expect(object?["type"] as? String == "interface" && object?["node"] as? String == "a")
        #expect(frame(.labRemoved("two")) == "data: {\"lab\":\"two\",\"type\":\"lab-removed\"}\n\n")
    }
}
