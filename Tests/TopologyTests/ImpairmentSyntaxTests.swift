import Testing
@testable import Topology

@Suite struct ImpairmentSyntaxTests {
    @Test func unitsAsTcWritesThem() {
        #expect(ImpairmentUnits.duration("20ms") == 20_000_000)
        #expect(ImpairmentUnits.duration("500us") == 500_000)
        #expect(ImpairmentUnits.duration("1.5s") == 1_500_000_000)
        #expect(ImpairmentUnits.duration("100") == 100_000)  // tc: no unit is microseconds
        #expect(ImpairmentUnits.duration("fast") == nil)
        #expect(ImpairmentUnits.percent("1%") == 1)
        #expect(ImpairmentUnits.percent("0.1") == 0.1)
        #expect(ImpairmentUnits.percent("101%") == nil)
        #expect(ImpairmentUnits.rate("10mbit") == 10_000_000)
        #expect(ImpairmentUnits.rate("512kbit") == 512_000)
        #expect(ImpairmentUnits.rate("1gbit") == 1_000_000_000)
        #expect(ImpairmentUnits.rate("125000bps") == 1_000_000)
        #expect(ImpairmentUnits.rate("10") == nil)
    }

    @Test func setMergeAndText() {
        var a = Impairment()
        #expect(a.set("delay", to: "20ms") == nil)
        #expect(a.set("loss", to: "1%") == nil)
        #expect(a.set("rate", to: "10mbit") == nil)
        #expect(a.set("speed", to: "1")?.contains("unknown impairment") == true)
        #expect(a.set("loss", to: "lots")?.contains("percentage") == true)
        var b = Impairment()
        _ = b.set("loss", to: "5%")
        let merged = a.merged(with: b)
        #expect(merged.text == "delay=20ms loss=5% rate=10mbit")
        #expect(!Impairment().needsNetem)
        var rateOnly = Impairment(); _ = rateOnly.set("rate", to: "1mbit")
        #expect(!rateOnly.needsNetem)
        #expect(a.needsNetem)
    }

    @Test func declaredOnLinksAndEndpoints() throws {
        let topology = try Topology.parse(yaml: """
            name: t
            nodes: { a: {}, b: {} }
            links:
              - endpoints: [a:eth0, { node: b, interface: eth0, impair: { loss: 2% } }]
                state: down
                impair: { delay: 20ms, jitter: 5ms, distribution: normal, rate: 10mbit, limit: 500 }
            """, file: "lab.yaml")
        let link = try #require(topology.links.first)
        #expect(link.isDown)
        #expect(link.impairment(of: 0)?.text == "delay=20ms jitter=5ms distribution=normal rate=10mbit limit=500")
        #expect(link.impairment(of: 1)?.text == "delay=20ms jitter=5ms distribution=normal loss=2% rate=10mbit limit=500")
    }

    @Test func flapSchedules() throws {
        let topology = try Topology.parse(yaml: """
            name: t
            nodes: { a: {}, b: {} }
            links:
              - endpoints: [a, b]
                flap: { down-after: 5, down-for: 500ms, times: 3, up-for: 2s }
            """, file: "lab.yaml")
        #expect(topology.links.first?.flap == FlapSchedule(downAfter: 5, downFor: 0.5, upFor: 2, times: 3))
        expectOnly("""
            name: t
            nodes: { a: {}, b: {} }
            links:
              - endpoints: [a, b]
                flap: { down-after: 5 }
            """, "lab.yaml:5:11", "'flap' needs both")
        expectOnly("""
            name: t
            nodes: { a: {}, b: {} }
            links:
              - endpoints: [a, b]
                flap: { down-after: later, down-for: 1 }
            """, "lab.yaml:5:25", "'down-after' must be a time")
    }

    @Test func badValuesAreReportedWhereWritten() {
        expectOnly("""
            name: t
            nodes: { a: {}, b: {} }
            links:
              - endpoints: [a, b]
                impair: { delay: soon }
            """, "lab.yaml:5:22", "'delay' must be a time")
        expectOnly("""
            name: t
            nodes: { a: {}, b: {} }
            links:
              - endpoints: [a, b]
                state: unplugged
            """, "lab.yaml:5:12", "'state' must be up or down")
        expectOnly("""
            name: t
            nodes: { a: {}, b: {} }
            links:
              - endpoints: [a, b]
                impair: { dealy: 1ms }
            """, "lab.yaml:5:15", "unknown key")
    }
}
