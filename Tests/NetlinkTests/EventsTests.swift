import CShims
import Foundation
import NetAddress
@testable import Netlink
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Netlink events: decoding")
struct EventDecodingTests {
    /// An RTM_NEWLINK as the kernel multicasts it decodes with LinkInfo's decoder, counters included.
    @Test func linkMessageWithCounters() throws {
        let message = NetlinkMessage(type: RTM_NEWLINK, flags: 0,
                                     header: IfInfoMessage(index: 7, flags: InterfaceFlags.up), summary: "event") { a in
            a.put(IFLA_IFNAME, string: "eth0")
            a.put(IFLA_OPERSTATE, u8: UInt8(IF_OPER_DOWN))
            var stats = [UInt8]()
            for value: UInt64 in [11, 22, 3333, 4444] + Array(repeating: 0, count: 20) {
                withUnsafeBytes(of: value.littleEndian) { stats += $0 }
            }
            a.put(IFLA_STATS64, bytes: stats)
        }
        let received = try ReceivedMessage.parse(message.encoded(sequence: 0)[...])
        let first = try #require(received.first)
        let event = try #require(try NetlinkEventSocket.event(first))
        guard case .link(let link) = event else { Issue.record("not a link event: \(event)"); return }
        #expect(link.index == 7 && link.name == "eth0" && link.isUp && !link.hasCarrier)
        #expect(link.operationalStateName == "DOWN")
        #expect(link.counters == LinkCounters(receivedPackets: 11, sentPackets: 22, receivedBytes: 3333, sentBytes: 4444))
    }

    @Test func doneAndUnknownMessages() throws {
        let done = NetlinkMessage(type: NLMSG_DONE, flags: 0, header: GenericMessage(family: 0), summary: "done")
        let parsed = try ReceivedMessage.parse(done.encoded(sequence: 42)[...])
        let first = try #require(parsed.first)
        guard case .dumpDone(let sequence)? = try NetlinkEventSocket.event(first) else {
            Issue.record("NLMSG_DONE is not dumpDone"); return
        }
        #expect(sequence == 42)
        let route = NetlinkMessage(type: RTM_NEWROUTE, flags: 0, header: RouteMessage(family: AddressFamily.inet), summary: "route")
        let routeMessage = try #require(try ReceivedMessage.parse(route.encoded(sequence: 0)[...]).first)
        guard case .route(let decoded)? = try NetlinkEventSocket.event(routeMessage) else {
            Issue.record("RTM_NEWROUTE is not a route event"); return
        }
        #expect(decoded.isDefault && decoded.family == .ipv4)
        let neighbour = NetlinkMessage(type: RTM_NEWNEIGH, flags: 0, header: GenericMessage(family: 0), summary: "neighbour")
        let neighbourMessage = try #require(try ReceivedMessage.parse(neighbour.encoded(sequence: 0)[...]).first)
        #expect(try NetlinkEventSocket.event(neighbourMessage) == nil)
    }
}

@Suite("Netlink events: a subscription inside a scratch namespace", .enabled(if: isRoot, "\(rootOnly)"))
struct EventKernelTests {
    /// Waits up to 2 s for events until `done` says it has what it needs.
    func collect(_ events: NetlinkEventSocket, until done: ([NetlinkEvent]) -> Bool) throws -> [NetlinkEvent] {
        var all: [NetlinkEvent] = []
        var buffer: [UInt8] = []
        let deadline = Date().addingTimeInterval(2)
        while !done(all) && Date() < deadline {
            var descriptor = pollfd(fd: events.fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, 100)
            all += try events.receive(buffer: &buffer)
        }
        return all
    }

    @Test func linksAddressesAndQdiscsAreAnnounced() throws {
        let ns = try ScratchNamespace("events")
        defer { ns.remove() }
        let events = try ns.run { try NetlinkEventSocket(groups: NetlinkGroup.allCases) }
        let socket = try ns.socket()
        var buffer: [UInt8] = []
        #expect(try events.receive(buffer: &buffer).isEmpty, "nothing happened yet")

        let (a, _) = try ns.vethPair(socket)
        let created = try collect(events) { $0.contains { if case .link(let l) = $0 { l.name == "b" } else { false } } }
        #expect(created.contains { if case .link(let link) = $0 { link.name == "a" } else { false } })

        try socket.execute(LinkRequest.set(index: a, name: "a", up: true))
        let up = try collect(events) { $0.contains { if case .link(let l) = $0 { l.name == "a" && l.isUp } else { false } } }
        #expect(up.contains { if case .link(let link) = $0 { link.name == "a" && link.isUp } else { false } })

        try socket.execute(AddressRequest.add(prefix("10.7.0.1/24"), index: UInt32(a), interface: "a"))
        let added = try collect(events) { $0.contains { if case .address = $0 { true } else { false } } }
        #expect(added.contains { if case .address(let address) = $0 { address.prefix == prefix("10.7.0.1/24") && address.index == UInt32(a) } else { false } })

        try socket.execute(QdiscRequest.replaceTokenBucket(index: a, name: "a", TokenBucketOptions(rate: 125_000, burst: 32_768, limit: 40_000)))
        let qdisc = try collect(events) { $0.contains { if case .qdisc(let q) = $0 { q.kind == "tbf" } else { false } } }
        #expect(qdisc.contains { if case .qdisc(let q) = $0 { q.kind == "tbf" && q.index == a && q.parent == rootQdiscParent } else { false } })
        try socket.execute(QdiscRequest.deleteRoot(index: a, name: "a"))
        let removed = try collect(events) { $0.contains { if case .qdiscRemoved = $0 { true } else { false } } }
        #expect(removed.contains { if case .qdiscRemoved(let q) = $0 { q.kind == "tbf" } else { false } })

        // A dump asked for on the same socket: every link with its counters, then its end.
        let sequence = try events.requestLinkDump()
        let dumped = try collect(events) { $0.contains { if case .dumpDone(let s) = $0 { s == sequence } else { false } } }
        let names = dumped.compactMap { if case .link(let link) = $0 { link.name } else { nil } }
        #expect(Set(names) == ["lo", "a", "b"])
        #expect(dumped.allSatisfy { if case .link(let link) = $0 { link.counters != nil } else { true } })

        try socket.execute(LinkRequest.delete(index: a, name: "a"))
        let deleted = try collect(events) { $0.contains { if case .linkRemoved = $0 { true } else { false } } }
        #expect(deleted.contains { if case .linkRemoved(let link) = $0 { link.name == "a" || link.name == "b" } else { false } })
    }
}
