import CShims
import NetAddress
@testable import Netlink
import Testing
import TestSupport

@Suite("Neighbours: ip neigh show")
struct NeighbourTests {
    // Captured from iproute2 6.1 as the IPRoute2VectorTests are: `ip -n NS neigh show` sends
    // RTM_GETNEIGH (0x1e), NLM_F_REQUEST|NLM_F_DUMP, and a zeroed ndmsg; `-6` sets the family.
    @Test("ip neigh show / ip -6 neigh show: the same dump request")
    func dumpRequestMatchesIPRoute2() {
        let all = NeighbourRequest.dump()
        #expect(all.type == 0x1e)
        #expect(all.payload == [UInt8](repeating: 0, count: 12))
        let v6 = NeighbourRequest.dump(family: AddressFamily.inet6)
        #expect(v6.payload == [0x0a] + [UInt8](repeating: 0, count: 11))
    }

    /// Captured with strace from `ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev v0 nud
    /// permanent` (and fd00::2) with v0 at index 3: flags CREATE|REPLACE, then ndmsg + attributes.
    @Test("ip neigh replace … nud permanent: the same bytes")
    func permanentNeighbourMatchesIPRoute2() throws {
        let mac: [UInt8] = [2, 0, 0, 0, 0, 2]
        let v4 = NeighbourRequest.addPermanent(try #require(IPAddress("10.0.0.2")), linkAddress: mac, index: 3, interface: "v0")
        #expect(v4.type == 0x1c)
        #expect(v4.flags == 0x500)
        #expect(v4.payload == [0x02, 0, 0, 0, 0x03, 0, 0, 0, 0x80, 0, 0, 0, 0x08, 0, 0x01, 0, 0x0a, 0, 0, 0x02,
                               0x0a, 0, 0x02, 0, 0x02, 0, 0, 0, 0, 0x02, 0, 0])
        let v6 = NeighbourRequest.addPermanent(try #require(IPAddress("fd00::2")), linkAddress: mac, index: 3, interface: "v0")
        #expect(v6.payload == [0x0a, 0, 0, 0, 0x03, 0, 0, 0, 0x80, 0, 0, 0, 0x14, 0, 0x01, 0, 0xfd, 0, 0, 0, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0, 0x02, 0x0a, 0, 0x02, 0, 0x02, 0, 0, 0, 0, 0x02, 0, 0])
    }

    @Test("ndmsg decodes what it encodes")
    func headerRoundTrip() throws {
        let header = NeighbourMessage(family: 2, index: 7, state: UInt16(NUD_FAILED), flags: 0, type: 1)
        var reader = ByteReader(header.encoded()[...])
        #expect(try NeighbourMessage(reader: &reader) == header)
    }

    @Test(.enabled(if: isRoot, "\(rootOnly)"))
    func readsStatesAsIPNeighShowsThem() throws {
        let scratch = try ScratchNamespace("neigh")
        defer { scratch.remove() }
        for command in ["link add va type veth peer name vb", "link set va up", "link set vb up",
                        "neigh add 10.0.0.9 lladdr 02:00:00:00:00:09 dev va nud permanent",
                        "neigh add 10.0.0.8 dev va nud failed", "neigh add fd00::8 dev va nud incomplete"] {
            let result = sh("ip -n \(scratch.name) \(command)")
            try #require(result.status == 0, "\(command): \(result.output)")
        }
        let socket = try scratch.socket()
        let va = try #require(try socket.links().first { $0.name == "va" })
        let entries = try socket.neighbours().filter { $0.index == va.index }
        let byAddress = Dictionary(entries.map { ($0.destination.description, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byAddress["10.0.0.9"]?.stateName == "PERMANENT")
        #expect(byAddress["10.0.0.9"]?.linkAddress == [2, 0, 0, 0, 0, 9])
        #expect(byAddress["10.0.0.8"]?.isFailed == true)
        #expect(byAddress["10.0.0.8"]?.linkAddress == nil)
        #expect(byAddress["fd00::8"]?.stateName == "INCOMPLETE")
        #expect(try socket.neighbours(family: AddressFamily.inet6).allSatisfy { $0.family == .ipv6 })
    }
}
