import CShims
import Foundation
import NetAddress
@testable import Netlink
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

let isRoot = getuid() == 0
let rootOnly = "needs root (run the tests as root to talk to the kernel)"

/// Runs `ip ARGS…` and fails if it does.
func ip(_ arguments: String...) throws {
    let command = "ip " + arguments.joined(separator: " ")
    let result = sh(command)
    guard result.status == 0 else {
        throw SystemCallError("\(command) exited \(result.status): \(result.output)", code: 0)
    }
}

/// A named namespace made with `ip netns add` for one test, deleted by `remove()`.
struct ScratchNamespace {
    let name: String
    var path: String { "/run/netns/\(name)" }

    init(_ tag: String) throws {
        name = "nltest-\(getpid())-\(tag)-\(UInt32.random(in: 0..<1_000_000))"
        try ip("netns", "add", name)
    }

    func remove() { try? ip("netns", "delete", name) }

    /// An fd of the namespace, for IFLA_NET_NS_FD.
    func open() throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open \(path)") }
        return fd
    }

    /// Creates the veth pair a/b inside this namespace (both ends placed by IFLA_NET_NS_FD) and
    /// returns their indexes.
    func vethPair(_ socket: NetlinkSocket) throws -> (Int32, Int32) {
        let fd = try open()
        defer { close(fd) }
        try socket.execute(LinkRequest.createVeth(VethEnd(name: "a", namespaceFD: fd), peer: VethEnd(name: "b", namespaceFD: fd)))
        let links = try socket.links()
        guard let a = links.first(where: { $0.name == "a" }), let b = links.first(where: { $0.name == "b" }) else {
            throw SystemCallError("veth a/b missing after creation: \(links.map(\.name))", code: 0)
        }
        return (a.index, b.index)
    }

    /// Opens a NETLINK_ROUTE socket inside the namespace from a dedicated pthread that joins it
    /// and exits, so no test thread ever changes namespace.
    func socket() throws -> NetlinkSocket { try run { try NetlinkSocket() } }

    /// Runs `body` on a dedicated pthread that joins the namespace first and exits afterwards.
    func run<T>(_ body: @escaping () throws -> T) throws -> T {
        var result: Result<T, any Error> = .failure(SystemCallError("thread never ran", code: 0))
        let job = NamespaceJob(path: path) { result = Result { try body() } }
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<NamespaceJob>.fromOpaque(raw!).takeRetainedValue()
            let fd = Glibc.open(job.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                job.failure = SystemCallError("open \(job.path)")
                return nil
            }
            defer { close(fd) }
            guard nslab_setns(fd, NSLAB_CLONE_NEWNET) == 0 else {
                job.failure = SystemCallError("setns \(job.path)")
                return nil
            }
            job.work()
            return nil
        }, Unmanaged.passRetained(job).toOpaque())
        guard created == 0 else { throw SystemCallError("pthread_create", code: created) }
        pthread_join(thread, nil)
        if let failure = job.failure { throw failure }
        return try result.get()
    }
}

/// What ScratchNamespace.run hands to its thread.
private final class NamespaceJob: @unchecked Sendable {
    let path: String
    let work: () -> Void
    var failure: SystemCallError?
    init(path: String, work: @escaping () -> Void) { self.path = path; self.work = work }
}

@Suite("Kernel: reading the host namespace (read only)")
struct HostReadOnlyTests {
    @Test(.enabled(if: isRoot, "\(rootOnly)"))
    func loopbackIsThere() throws {
        let socket = try NetlinkSocket()
        let links = try socket.links()
        let lo = try #require(links.first { $0.name == "lo" }, "no lo in \(links.map(\.name))")
        #expect(lo.index == 1)
        #expect(lo.isLoopback)
        #expect(lo.mtu != nil)
        #expect(Set(links.map(\.index)).count == links.count, "indexes are unique")

        let addresses = try socket.addresses()
        #expect(addresses.contains { $0.index == 1 && $0.prefix == prefix("127.0.0.1/8") },
                "127.0.0.1/8 on lo; got \(addresses.filter { $0.index == 1 }.map(\.prefix))")

        let routes = try socket.routes()
        let indexes = Set(links.map { UInt32($0.index) })
        for route in routes {
            #expect(route.table == UInt32(RT_TABLE_MAIN.rawValue))
            if let oif = route.outputIndex { #expect(indexes.contains(oif), "route \(route.destination) via unknown ifindex \(oif)") }
            #expect(!route.destination.hasHostBits, "\(route.destination)")
        }
    }
}

@Suite("Kernel: requests inside a scratch namespace", .enabled(if: isRoot, "\(rootOnly)"))
struct NamespaceKernelTests {
    @Test func socketIsInTheNewNamespace() throws {
        let ns = try ScratchNamespace("sock")
        defer { ns.remove() }
        let socket = try ns.socket()
        let links = try socket.links()
        #expect(links.map(\.name) == ["lo"], "a fresh namespace has only lo")
        #expect(links.first?.isUp == false)
        #expect(try socket.addresses().isEmpty)
        #expect(try socket.routes().isEmpty)
    }

    @Test func netconfReportsForwardingAsSysctlSetsIt() throws {
        let ns = try ScratchNamespace("netconf")
        defer { ns.remove() }
        let socket = try ns.socket()
        for (family, key) in [(AF_INET, "net.ipv4.ip_forward"), (AF_INET6, "net.ipv6.conf.all.forwarding")] {
            for value in ["1", "0"] {
                try ip("netns", "exec", ns.name, "sysctl", "-qw", "\(key)=\(value)")
                #expect(try socket.forwarding(family: family) == (value == "1"), "\(key)=\(value)")
            }
        }
        // A request the kernel refuses is thrown, not mistaken for an answer.
        #expect(throws: NetlinkError.self) { try socket.get(NetConfRequest.get(family: AF_INET, index: 9999)) }
    }

    @Test func refusedRequestCarriesTheKernelsText() throws {
        let ns = try ScratchNamespace("enodev")
        defer { ns.remove() }
        let socket = try ns.socket()
        let request = AddressRequest.add(prefix("10.9.9.9/24"), index: 9999, interface: "ghost")
        let error = try #require(throws: NetlinkError.self) { try socket.execute(request) }
        #expect(error.code == ENODEV)
        #expect(error.request == "add address 10.9.9.9/24 to ghost")
        #expect(error.kernelMessage?.isEmpty == false, "NETLINK_EXT_ACK text missing: \(error)")
    }

    @Test func batchReportsTheFirstFailureAndAttemptsTheRest() throws {
        let ns = try ScratchNamespace("batch")
        defer { ns.remove() }
        let socket = try ns.socket()
        let (a, b) = try ns.vethPair(socket)
        let batch = [
            LinkRequest.set(index: a, name: "a", up: true),
            LinkRequest.set(index: b, name: "b", up: true),
            AddressRequest.add(prefix("10.9.9.9/24"), index: 9999, interface: "ghost"),   // 3rd: fails, ENODEV
            AddressRequest.add(prefix("10.1.0.1/24"), index: UInt32(a), interface: "a"),
            LinkRequest.delete(index: 9998, name: "phantom"),                              // fails too, later
            AddressRequest.add(prefix("10.1.0.2/24"), index: UInt32(a), interface: "a"),
        ]
        let error = try #require(throws: NetlinkError.self) { try socket.execute(batch) }
        #expect(error.request == batch[2].summary)
        #expect(error.request == "add address 10.9.9.9/24 to ghost")
        #expect(error.code == ENODEV)

        // Every other request was still applied, including those after the failures.
        let links = try socket.links()
        #expect(links.first { $0.index == a }?.isUp == true)
        #expect(links.first { $0.index == b }?.isUp == true)
        let onA = try socket.addresses().filter { $0.index == UInt32(a) && $0.family == .ipv4 }.map(\.prefix)
        #expect(Set(onA) == [prefix("10.1.0.1/24"), prefix("10.1.0.2/24")])

        // The kernel's prefix route parses as such.
        let connected = try #require(try socket.routes().first { $0.destination == prefix("10.1.0.0/24") })
        #expect(connected.outputIndex == UInt32(a))
        #expect(connected.protocolName == "kernel")
        #expect(connected.scopeName == "link")
        #expect(connected.preferredSource == address("10.1.0.1"))
        #expect(connected.gateway == nil)
    }

    @Test func routeAddedIsReadBackAsWritten() throws {
        let ns = try ScratchNamespace("route")
        defer { ns.remove() }
        let socket = try ns.socket()
        let (a, b) = try ns.vethPair(socket)
        try socket.execute([
            LinkRequest.set(index: a, name: "a", up: true, mtu: 9000, alias: "nslab-test"),
            LinkRequest.set(index: b, name: "b", up: true),
            AddressRequest.add(prefix("10.1.0.1/24"), index: UInt32(a), interface: "a"),
            AddressRequest.add(prefix("fd00::1/64"), index: UInt32(a), interface: "a"),
        ])
        let v4 = RouteInfo(destination: prefix("10.2.0.0/16"), gateway: address("10.1.0.254"), outputIndex: UInt32(a), metric: 42)
        let v6 = RouteInfo(destination: prefix("fd01::/64"), gateway: address("fd00::2"), outputIndex: UInt32(a), metric: 1024)
        try socket.execute([RouteRequest.add(v4, describedAs: "v4"), RouteRequest.add(v6, describedAs: "v6")])

        let routes = try socket.routes()
        let readV4 = try #require(routes.first { $0.destination == v4.destination })
        #expect(readV4 == v4)
        let readV6 = try #require(routes.first { $0.destination == v6.destination })
        #expect(readV6.gateway == v6.gateway)
        #expect(readV6.metric == 1024)
        #expect(readV6.outputIndex == UInt32(a))
        #expect(readV6.protocolName == "boot")

        let linkA = try #require(try socket.links().first { $0.index == a })
        #expect(linkA.mtu == 9000)
        #expect(linkA.alias == "nslab-test")
        let v6Address = try #require(try socket.addresses().first { $0.prefix == prefix("fd00::1/64") })
        #expect(v6Address.flags & UInt32(IFA_F_NODAD) != 0)
        #expect(v6Address.flags & UInt32(IFA_F_TENTATIVE) == 0, "nodad: usable at once")

        // Adding the same route twice is refused with EEXIST (NLM_F_EXCL).
        let duplicate = try #require(throws: NetlinkError.self) { try socket.execute(RouteRequest.add(v4, describedAs: "again")) }
        #expect(duplicate.code == EEXIST)
        #expect(duplicate.request == "add route again")
    }

    @Test func vethIsCreatedDirectlyInBothNamespaces() throws {
        let x = try ScratchNamespace("x")
        defer { x.remove() }
        let y = try ScratchNamespace("y")
        defer { y.remove() }
        let xfd = try x.open()
        defer { close(xfd) }
        let yfd = try y.open()
        defer { close(yfd) }
        let sx = try x.socket()
        let sy = try y.socket()
        try sx.execute(LinkRequest.createVeth(VethEnd(name: "left", namespaceFD: xfd, mtu: 1400),
                                              peer: VethEnd(name: "right", namespaceFD: yfd, mtu: 1400), up: true))
        let left = try #require(try sx.links().first { $0.name == "left" })
        let right = try #require(try sy.links().first { $0.name == "right" })
        #expect(left.kind == "veth")
        #expect(right.kind == "veth")
        #expect(left.isUp)
        #expect(!right.isUp)
        #expect(left.mtu == 1400 && right.mtu == 1400)
        #expect(left.peerIndex == right.index)
        #expect(right.peerIndex == left.index)
        #expect(left.peerNamespaceID != nil)
        #expect(try sy.links().contains { $0.name == "left" } == false)

        try sx.execute(LinkRequest.delete(index: left.index, name: "left"))
        #expect(try sy.links().contains { $0.name == "right" } == false, "deleting one end removes the pair")
    }
}
