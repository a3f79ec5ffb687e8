import CShims
import Foundation
import Testing
@testable import Lab
@testable import Netlink

@Suite("Lab events: lines, JSON and what netlink messages amount to")
struct LabEventTests {
    let time = "2025-06-01T10:00:00.123+02:00"

    @Test func lines() {
        #expect(LabEvent(time: time, type: .linkDown, lab: "l", node: "r1", interface: "r1:eth0").line
                == "2025-06-01T10:00:00.123+02:00 l link-down r1:eth0")
        #expect(LabEvent(time: time, type: .addressAdded, lab: "l", node: "h", interface: "h:eth0", address: "10.0.0.1/24").line
                == "\(time) l address-added h:eth0 10.0.0.1/24")
        #expect(LabEvent(time: time, type: .routeAdded, lab: "l", node: "r1", interface: "r1:eth1", destination: "10.9.0.0/24",
                         gateway: "172.16.0.2", metric: 20, protocol: "ospf").line
                == "\(time) l route-added r1 10.9.0.0/24 via 172.16.0.2 dev r1:eth1 metric 20 proto ospf")
        #expect(LabEvent(time: time, type: .routeRemoved, lab: "l", node: "h", destination: "default", protocol: "static").line
                == "\(time) l route-removed h default proto static")
        #expect(LabEvent(time: time, type: .impairmentSet, lab: "l", node: "a", interface: "a:eth0", impairment: "delay=20ms loss=1%").line
                == "\(time) l impairment-set a:eth0 delay=20ms loss=1%")
        #expect(LabEvent(time: time, type: .processExited, lab: "l", node: "h", pid: 42, command: ["sleep", "600"]).line
                == "\(time) l process-exited h pid 42 -- sleep 600")
        #expect(LabEvent(time: time, type: .labDeployed, lab: "l", file: "/tmp/l.yaml").line == "\(time) l lab-deployed from /tmp/l.yaml")
        #expect(LabEvent(time: time, type: .labDestroyed, lab: "l").line == "\(time) l lab-destroyed")
        #expect(LabEvent(time: time, type: .nodeStopped, lab: "l", node: "r2").line == "\(time) l node-stopped r2")
    }

    /// JSON lines: sorted keys, only the fields the event has, and they read back the same.
    @Test func json() throws {
        let event = LabEvent(time: time, type: .carrierDown, lab: "l", node: "b", interface: "b:eth0")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(event), as: UTF8.self)
        #expect(text == #"{"interface":"b:eth0","lab":"l","node":"b","time":"2025-06-01T10:00:00.123+02:00","type":"carrier-down"}"#)
        #expect(try JSONDecoder().decode(LabEvent.self, from: Data(text.utf8)) == event)
    }

    @Test func timesAreISO8601WithMilliseconds() {
        #expect(LabEvent.now().range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$"#, options: .regularExpression) != nil)
    }

    // MARK: The translator

    func decoded(_ message: NetlinkMessage) throws -> NetlinkEvent {
        let received = try #require(try ReceivedMessage.parse(message.encoded(sequence: 0)[...]).first)
        return try #require(try NetlinkEventSocket.event(received))
    }

    func link(_ index: Int32, _ name: String, up: Bool, carrier: Bool, removed: Bool = false) throws -> NetlinkEvent {
        let flags = (up ? InterfaceFlags.up : 0) | (carrier ? InterfaceFlags.lowerUp : 0)
        return try decoded(NetlinkMessage(type: removed ? RTM_DELLINK : RTM_NEWLINK, flags: 0,
                                          header: IfInfoMessage(index: index, flags: flags), summary: "link") { a in
            a.put(IFLA_IFNAME, string: name)
        })
    }

    func address(_ index: UInt32, _ bytes: [UInt8], length: UInt8, removed: Bool = false) throws -> NetlinkEvent {
        try decoded(NetlinkMessage(type: removed ? RTM_DELADDR : RTM_NEWADDR, flags: 0,
                                   header: IfAddrMessage(family: AddressFamily.inet, prefixLength: length, index: index),
                                   summary: "address") { a in
            a.put(IFA_LOCAL, bytes: bytes)
        })
    }

    /// What a dump answers is the baseline; after it only differences are events: the end taken
    /// down is link-down, the other end (still up) carrier-down; an address announced twice is
    /// added once; routes name their interface and protocol.
    @Test func translatorReportsDifferencesOnly() throws {
        var translator = NodeEventTranslator(lab: "l", node: "r1")
        #expect(translator.translate(try link(2, "eth0", up: true, carrier: true), baseline: true, time: time).isEmpty)
        #expect(translator.translate(try address(2, [10, 0, 0, 1], length: 24), baseline: true, time: time).isEmpty)

        let down = translator.translate(try link(2, "eth0", up: false, carrier: false), baseline: false, time: time)
        #expect(down.map(\.type) == [.linkDown] && down.first?.interface == "r1:eth0")
        #expect(translator.translate(try link(2, "eth0", up: false, carrier: false), baseline: false, time: time).isEmpty,
                "the same state again is no event")
        _ = translator.translate(try link(2, "eth0", up: true, carrier: true), baseline: false, time: time)
        #expect(translator.translate(try link(2, "eth0", up: true, carrier: false), baseline: false, time: time).map(\.type) == [.carrierDown])

        #expect(translator.translate(try address(2, [10, 0, 0, 1], length: 24), baseline: false, time: time).isEmpty,
                "known from the baseline")
        let added = translator.translate(try address(2, [10, 9, 0, 1], length: 24), baseline: false, time: time)
        #expect(added.map(\.type) == [.addressAdded] && added.first?.address == "10.9.0.1/24" && added.first?.interface == "r1:eth0")
        #expect(translator.translate(try address(2, [10, 9, 0, 1], length: 24), baseline: false, time: time).isEmpty)
        #expect(translator.translate(try address(2, [10, 9, 0, 1], length: 24, removed: true), baseline: false, time: time)
                .map(\.type) == [.addressRemoved])

        let route = try decoded(NetlinkMessage(type: RTM_NEWROUTE, flags: 0,
                                               header: RouteMessage(family: AddressFamily.inet, destinationLength: 24,
                                                                    table: UInt8(RT_TABLE_MAIN.rawValue), protocolID: 188),
                                               summary: "route") { a in
            a.put(RTA_DST.rawValue, bytes: [10, 8, 0, 0])
            a.put(RTA_GATEWAY.rawValue, bytes: [10, 0, 0, 2])
            a.put(RTA_OIF.rawValue, u32: 2)
        })
        let routes = translator.translate(route, baseline: false, time: time)
        #expect(routes.first?.line == "\(time) l route-added r1 10.8.0.0/24 via 10.0.0.2 dev r1:eth0 proto ospf")

        let gone = translator.translate(try link(2, "eth0", up: true, carrier: false, removed: true), baseline: false, time: time)
        #expect(gone.map(\.type) == [.interfaceRemoved])
        #expect(translator.translate(try link(3, "eth1", up: false, carrier: false), baseline: false, time: time).map(\.type)
                == [.interfaceAdded])
    }
}
