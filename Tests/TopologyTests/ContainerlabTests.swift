import Foundation
import NetAddress
import Testing
@testable import Topology

/// containerlab topologies (files written for these tests, in the forms containerlab's
/// documentation gives): what each becomes, and where each refusal points.
struct ContainerlabTests {
    static let twoHosts = """
        name: pair
        topology:
          nodes:
            a: { kind: linux, image: alpine:3 }
            b:
              kind: linux
              image: alpine:3
          links:
            - endpoints: ["a:eth1", "b:eth1"]
              ipv4: ["192.0.2.1/24", "192.0.2.2/24"]
              mtu: 1400
        """

    @Test func briefLinkWithAddressesAndMTU() throws {
        let topology = try #require(decode(Self.twoHosts, file: "pair.clab.yml"))
        #expect(topology.format == .containerlab)
        #expect(topology.name == "pair")
        #expect(topology.prefix == "clab-pair-", "containerlab names namespaces clab-LAB-NODE")
        let ends = try #require(topology.links.first?.endpoints)
        #expect(ends.map(\.id) == ["a:eth1", "b:eth1"])
        #expect(ends.map { $0.addresses.map(\.description) } == [["192.0.2.1/24"], ["192.0.2.2/24"]])
        #expect(ends.map(\.mtu) == [1400, 1400])
        #expect(topology.nodes.map(\.kind) == [.host, .host])
        // image is left aside, said once, where it is first written.
        #expect(topology.notes.map(\.location.description) == ["pair.clab.yml:4:23"])
        #expect(topology.notes.first?.message.contains("runs the host's own programs") == true)
    }

    @Test func extendedLinkForm() throws {
        let yaml = """
            name: ext
            prefix: ""
            topology:
              defaults: { kind: linux }
              nodes: { a: {}, b: {} }
              links:
                - type: veth
                  endpoints:
                    - node: a
                      interface: e1
                      ipv4: 10.1.0.1/30
                      ipv6: fd00:1::1/64
                      mac: 02:00:00:00:00:01
                    - { node: b, interface: e1, ipv4: 10.1.0.2/30 }
                  mtu: 9000
            """
        let topology = try #require(decode(yaml, file: "ext.clab.yml"))
        #expect(topology.prefix == "", "prefix \"\" names the namespaces as the nodes")
        let ends = try #require(topology.links.first?.endpoints)
        #expect(ends[0].addresses.map(\.description) == ["10.1.0.1/30", "fd00:1::1/64"])
        #expect(ends[0].mac == [2, 0, 0, 0, 0, 1])
        #expect(ends.map(\.mtu) == [9000, 9000])
    }

    @Test func execLinesBecomeAddressesRoutesAndForwardingWhereExact() throws {
        let yaml = """
            name: ex
            topology:
              nodes:
                h:
                  kind: linux
                  env: { WHO: world }
                  exec:
                    - ip link set eth1 up
                    - ip addr add 10.2.0.1/24 dev eth1
                    - ip -6 address add fd00:2::1/64 dev eth1
                    - ip route add default via 10.2.0.254
                    - ip route add 10.9.0.0/24 via 10.2.0.254 dev eth1 metric 10
                    - ip route add 10.8.0.0/24 via 10.77.0.1
                    - ip addr add 10.255.0.1/32 dev lo
                    - sh -c 'echo $$WHO > /tmp/x'
                r:
                  kind: linux
                  exec:
                    - sysctl -w net.ipv4.ip_forward=1
                    - ip link set dev eth1 mtu 1450
                    - ip addr add 10.2.0.254/24 dev eth1
              links:
                - endpoints: [h:eth1, r:eth1]
            """
        let topology = try #require(decode(yaml, file: "ex.clab.yml"))
        let h = try #require(topology.node(named: "h")), r = try #require(topology.node(named: "r"))
        let ends = try #require(topology.links.first?.endpoints)
        #expect(ends[0].addresses.map(\.description) == ["10.2.0.1/24", "fd00:2::1/64"])
        #expect(ends[1].addresses.map(\.description) == ["10.2.0.254/24"])
        #expect(ends[1].mtu == 1450)
        #expect(r.kind == .router)
        #expect(h.kind == .host)
        #expect(h.routes.map(\.text) == ["default via 10.2.0.254", "10.9.0.0/24 via 10.2.0.254 dev eth1 metric 10"])
        // A gateway no address of the node reaches, an interface no link makes, anything else:
        // run as containerlab runs them, words split as a shell splits them, with the env.
        #expect(h.commands.map(\.argv) == [
            ["env", "WHO=world", "ip", "addr", "add", "10.255.0.1/32", "dev", "lo"],
            ["env", "WHO=world", "sh", "-c", "echo $WHO > /tmp/x"],
            ["env", "WHO=world", "ip", "route", "add", "10.8.0.0/24", "via", "10.77.0.1"],
        ])
    }

    @Test func inheritanceNodeOverGroupOverKindOverDefaults() throws {
        let yaml = """
            name: inh
            topology:
              defaults:
                kind: linux
                exec: ["echo defaults"]
                env: { A: defaults, B: defaults }
              kinds:
                linux:
                  exec: ["echo kind"]
                  env: { B: kind }
              groups:
                switches: { kind: bridge }
                routers:
                  exec: ["sysctl -w net.ipv4.ip_forward=1", "echo group"]
                  env: { C: group }
              nodes:
                r1: { group: routers, exec: ["echo node"], env: { A: node } }
                h1: {}
                s1: { group: switches }
              links:
                - endpoints: [r1:eth1, s1:p1]
                - endpoints: [h1:eth1, s1:p2]
            """
        let topology = try #require(decode(yaml, file: "inh.clab.yml"))
        let r1 = try #require(topology.node(named: "r1"))
        #expect(r1.kind == .router)
        #expect(topology.node(named: "s1")?.kind == .bridge, "a group's kind wins over the defaults'")
        #expect(topology.node(named: "h1")?.kind == .host)
        // Lists merge from the least specific level to the most; maps too, the most specific winning.
        #expect(r1.commands.map { $0.argv.suffix(2).joined(separator: " ") } == ["echo defaults", "echo kind", "echo group", "echo node"])
        #expect(r1.commands.first?.argv.prefix(4) == ["env", "A=node", "B=kind", "C=group"])
    }

    @Test func bindsOfSingleEtcFilesBecomeNodeFiles() throws {
        let directory = NSTemporaryDirectory() + "clab-binds-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory + "/h", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "127.0.1.1 h\n".write(toFile: directory + "/h/hosts", atomically: true, encoding: .utf8)
        let yaml = """
            name: b
            topology:
              nodes:
                h:
                  kind: linux
                  binds:
                    - h/hosts:/etc/hosts:ro
            """
        let topology = try #require(decode(yaml, file: directory + "/b.clab.yml"))
        #expect(topology.node(named: "h")?.files.map { "\($0.name)=\($0.content)" } == ["hosts=127.0.1.1 h\n"])
    }

    // MARK: refusals, each where it is written

    @Test func vendorKindsAreRefusedAtTheirKind() {
        expectOnly("""
            name: v
            topology:
              nodes:
                srl: { kind: nokia_srlinux, image: ghcr.io/nokia/srlinux }
            """, "lab.yaml:4:18", "runs a vendor's image: nslab runs linux and bridge nodes")
    }

    @Test func frrNodesRunTheirOwnConfiguration() throws {
        let directory = NSTemporaryDirectory() + "clab-frr-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory + "/r1", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "router ospf\n network 10.0.0.0/8 area 0\n".write(toFile: directory + "/r1/frr.conf", atomically: true, encoding: .utf8)
        try "zebra=yes\nospfd=yes\nbgpd=no\nbfdd=yes\nvtysh_enable=yes\n".write(toFile: directory + "/r1/daemons", atomically: true, encoding: .utf8)
        let file = directory + "/lab.clab.yml"
        try """
            name: f
            topology:
              kinds: { frr: { image: quay.io/frrouting/frr:8.4.1 } }
              nodes:
                r1:
                  kind: frr
                  binds: [r1/daemons:/etc/frr/daemons, r1/frr.conf:/etc/frr/frr.conf, r1/vtysh.conf:/etc/frr/vtysh.conf]
                r2:
                  kind: linux
                  image: quay.io/frrouting/frr:10.5.1
            """.write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            _ = try Topology.load(path: file)
        } throws: { error in
            let diagnostics = (error as? TopologyError)?.diagnostics ?? []
            // r1 is whole; r2, an FRR image with no frr.conf, is refused where it is named.
            return diagnostics.count == 1 && diagnostics[0].location.line == 8
                && diagnostics[0].message == "FRR node 'r2' has no frr.conf"
        }
        try String(contentsOfFile: file, encoding: .utf8)
            .replacingOccurrences(of: "image: quay.io/frrouting/frr:10.5.1", with: "image: alpine:3")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let topology = try Topology.load(path: file)
        let r1 = try #require(topology.node(named: "r1"))
        #expect(r1.kind == .router)
        #expect(r1.frr?.config == "router ospf\n network 10.0.0.0/8 area 0\n")
        #expect(r1.frr?.replacesGenerated == true && r1.frr?.daemons == ["ospfd", "bfdd"])
        #expect(r1.files.isEmpty)  // /etc/frr binds are its FRR, not per-node /etc files
        #expect(topology.node(named: "r2")?.frr == nil)
    }

    @Test func containerSettingsAreRefusedWithTheReason() {
        expectOnly("""
            name: c
            topology:
              nodes:
                h:
                  kind: linux
                  ports: ["8080:80"]
            """, "lab.yaml:6:7", "'ports' configures a container", hint: "remove it")
        expectOnly("""
            name: c
            topology:
              nodes:
                h: { kind: linux, cmd: "sleep 1d" }
            """, "lab.yaml:4:23", "'cmd' is a container's main program", hint: "exec")
    }

    @Test func linksToTheHostAreRefused() {
        expectOnly("""
            name: l
            topology:
              nodes: { h: { kind: linux } }
              links:
                - type: host
                  endpoint: { node: h, interface: eth1 }
                  host-interface: h-eth1
            """, "lab.yaml:5:13", "link type 'host' is not supported", hint: "never connects to the host")
    }

    @Test func bindsOutsideEtcAreRefused() {
        expectOnly("""
            name: b
            topology:
              nodes:
                r:
                  kind: linux
                  binds: ["r/frr.conf:/etc/frr/frr.conf"]
            """, "lab.yaml:6:15", "only single files directly under /etc")
    }

    @Test func unknownKeysAndNodes() {
        expectSome("""
            name: u
            topology:
              nodes: { a: { kind: linux } }
              linkz: []
            """, "lab.yaml:4:3", "unknown key 'linkz'", hint: "did you mean 'links'?")
        expectOnly("""
            name: u
            topology:
              nodes: { a: { kind: linux } }
              links:
                - endpoints: ["a:eth1", "b:eth1"]
            """, "lab.yaml:5:30", "unknown node 'b'")
        expectOnly("""
            name: u
            topology:
              nodes: { a: {} }
            """, "lab.yaml:3:12", "node 'a' has no kind", hint: "kind: linux")
    }

    @Test func anUnclosedQuoteInAnExecLine() {
        expectOnly("""
            name: q
            topology:
              nodes:
                a: { kind: linux, exec: ["sh -c 'echo hi"] }
            """, "lab.yaml:4:37", "quote that is never closed")
    }

    // MARK: export

    /// A lab exported and read back is the same lab: kinds, addresses, MTUs, routes.
    @Test func exportReadsBackAsTheSameLab() throws {
        let yaml = """
            name: routers
            nodes:
              h1: { routes: [default via 10.1.0.254] }
              r1: { kind: router, routes: [10.3.0.0/24 via 10.2.0.2, "fd00:3::/64 via fd00:2::2"] }
              r2: { kind: router, routes: [default via 10.2.0.1] }
              sw: { kind: bridge }
              h2: { routes: [default via 10.3.0.254] }
            links:
              - { endpoints: [h1:eth0, r1:eth0], addresses: [10.1.0.1/24, 10.1.0.254/24], mtu: 1400 }
              - { endpoints: [r1:eth1, r2:eth0], addresses: [[10.2.0.1/24, "fd00:2::1/64"], [10.2.0.2/24, "fd00:2::2/64"]] }
              - { endpoints: [r2:eth1, sw:p1], addresses: [10.3.0.254/24, ~] }
              - { endpoints: [sw:p2, h2:eth0], addresses: [~, 10.3.0.1/24] }
            """
        let original = try #require(decode(yaml))
        let exported = ContainerlabWriter.yaml(of: original, image: "alpine:3")
        let back = try #require(decode(exported, file: "routers.clab.yml"))
        #expect(back.format == .containerlab)
        #expect(back.nodes.map(\.name) == original.nodes.map(\.name))
        #expect(back.nodes.map(\.kind) == original.nodes.map(\.kind))
        #expect(back.nodes.map { $0.routes.map(\.text) } == original.nodes.map { $0.routes.map(\.text) })
        #expect(back.links.flatMap(\.endpoints).map(\.id) == original.links.flatMap(\.endpoints).map(\.id))
        #expect(back.links.flatMap(\.endpoints).map { $0.addresses.map(\.description) }
                == original.links.flatMap(\.endpoints).map { $0.addresses.map(\.description) })
        #expect(back.links.flatMap(\.endpoints).map(\.mtu) == original.links.flatMap(\.endpoints).map(\.mtu))
        #expect(back.nodes.allSatisfy { $0.commands.isEmpty }, "every exec line read exactly: \(exported)")
        #expect(exported.contains("# - sw is a bridge node"), "\(exported)")
    }
}
