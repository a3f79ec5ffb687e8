import Testing
@testable import Drawing
import Topology

/// Names that mean something to DOT, HTML, Mermaid or Markdown come out as text; links that are
/// down or impaired, in the file or live, are marked in every format.
@Suite struct EscapingAndStateTests {
    static let awkward = ["say \"hi\"", "back\\slash", "<b>&amp;", "pipe|hash#", "`tick`", "end"]

    static var awkwardLab: Topology {
        lab(awkward.map { ($0, NodeKind.host) } + [("r", .router)],
            awkward.enumerated().map { ("\($1):e\($0)", "r:p\($0)", ["10.9.\($0).1/24"], ["10.9.\($0).254/24"]) },
            name: "odd \"lab\"")
    }

    @Test func dotQuotesNamesAndEscapesLabels() {
        let dot = DotRenderer.render(Picture(Self.awkwardLab))
        #expect(dot.contains("graph \"odd \\\"lab\\\"\" {"))
        #expect(dot.contains("\"say \\\"hi\\\"\" [shape=box"))
        #expect(dot.contains("\"back\\\\slash\" [shape=box"))
        #expect(dot.contains("<B>say &quot;hi&quot;</B>"))
        #expect(dot.contains("<B>&lt;b&gt;&amp;amp;</B>"))
        #expect(dot.contains("\"<b>&amp;\":\"p0\":e -- \"r\":\"p2\":w;") || dot.contains("\"<b>&amp;\":\"p0\""))
        #expect(DotRenderer.quote("a\nb\u{7}c") == "\"a\\nb c\"")
    }

    @Test func mermaidWritesEntityCodes() {
        let mermaid = MermaidRenderer.render(Picture(Self.awkwardLab))
        #expect(mermaid.contains("n1[\"say #34;hi#34;\"]:::host"))
        #expect(mermaid.contains("n3[\"#60;b#62;#38;amp;\"]:::host"))
        #expect(mermaid.contains("n4[\"pipe#124;hash#35;\"]:::host"))
        #expect(mermaid.contains("n5[\"#96;tick#96;\"]:::host"))
        #expect(mermaid.contains("n6[\"end\"]:::host"), "a keyword as a name is only a label; the id is n6")
        // Inside a label, the only quotes are the two around it.
        for line in mermaid.split(separator: "\n") where line.contains("---|") {
            #expect(line.filter { $0 == "\"" }.count == 2, "\(line)")
            #expect(line.filter { $0 == "|" }.count == 2, "\(line)")
        }
    }

    /// Graphviz reads the awkward lab and writes every name back, XML-escaped, in its SVG.
    @Test(.enabled(if: graphvizInstalled, "needs Graphviz's dot (apt-get install graphviz)"))
    func graphvizReadsAwkwardNames() throws {
        let svg = try #require(runDot(DotRenderer.render(Picture(Self.awkwardLab))))
        for name in ["say &quot;hi&quot;", "back\\slash", "&lt;b&gt;&amp;amp;", "pipe|hash#", "`tick`"] {
            #expect(svg.contains(">\(name)</text>") || svg.contains(">\(name.replacing("&quot;", with: "\""))</text>"), "\(name)")
        }
    }

    @Test func textKeepsAwkwardNamesReadable() {
        let text = AsciiRenderer.render(Picture(Self.awkwardLab))
        #expect(text.contains("[say \"hi\"]") && text.contains("[back\\slash]") && text.contains("(r)"))
        #expect(widest(text) <= 80, "\(text)")
    }

    static let pair = lab([("a", .host), ("b", .host), ("c", .router)],
                          [("a:eth0", "c:eth0", ["10.1.0.1/24"], ["10.1.0.2/24"]),
                           ("b:eth0", "c:eth1", ["10.2.0.1/24"], ["10.2.0.2/24"])])

    @Test func declaredDownAndImpairedLinks() {
        var topology = Self.pair
        topology.links[0].isDown = true
        var delay = Impairment()
        _ = delay.set("delay", to: "20ms")
        _ = delay.set("loss", to: "1%")
        topology.links[1].impairment = delay
        let picture = Picture(topology)
        #expect(picture.links.map(\.isDown) == [true, false])
        #expect(picture.links[1].impairmentLines == ["delay 20ms loss 1%"])
        let dot = DotRenderer.render(picture)
        #expect(dot.contains("\"a\":\"p0\":e -- \"c\":\"p0\":w [color=\"#d62728\", fontcolor=\"#d62728\", style=dashed, penwidth=2.5, label=\"DOWN\"];"))
        #expect(dot.contains("\"c\":\"p1\":e -- \"b\":\"p0\":w [color=\"#d97800\", fontcolor=\"#d97800\", penwidth=2.5, label=\"delay 20ms loss 1%\"];"))
        let mermaid = MermaidRenderer.render(picture)
        #expect(mermaid.contains("n1 -.-|\"DOWN<br>a:eth0 10.1.0.1/24<br>c:eth0 10.1.0.2/24\"| n3"))
        #expect(mermaid.contains("n2 ---|\"b:eth0 10.2.0.1/24<br>c:eth1 10.2.0.2/24<br>delay 20ms loss 1%\"| n3"))
        #expect(mermaid.contains("linkStyle 0 stroke:#d62728") && mermaid.contains("linkStyle 1 stroke:#d97800"))
        let text = AsciiRenderer.render(picture)
        #expect(text.contains(": eth0 10.1.0.1/24\n :   DOWN\n : eth0 10.1.0.2/24"), "\(text)")
        #expect(text.contains("~ delay 20ms loss 1%"), "\(text)")
    }

    /// The live state replaces the file's: an end without carrier makes its link down, the
    /// kernel's qdisc its impairment (per end when the two differ), addresses the kernel's.
    @Test func liveStateOverlaysTheFile() {
        var rate = Impairment()
        _ = rate.set("rate", to: "10mbit")
        let live = LiveState(ends: [
            "a:eth0": .init(up: true, carrier: false, addresses: ["10.1.0.1/24", "fe80::1/64"], impairment: nil),
            "c:eth0": .init(up: false, carrier: false, addresses: ["10.1.0.2/24"], impairment: nil),
            "b:eth0": .init(up: true, carrier: true, addresses: ["10.2.0.1/24", "fd00::1/64"], impairment: rate),
            "c:eth1": .init(up: true, carrier: true, addresses: ["10.2.0.2/24"], impairment: nil),
        ])
        let picture = Picture(Self.pair, live: live)
        #expect(picture.isLive)
        #expect(picture.links.map(\.isDown) == [true, false])
        #expect(picture.links[0].a.addresses == ["10.1.0.1/24"], "link-local addresses are left out")
        #expect(picture.links[1].a.addresses == ["10.2.0.1/24", "fd00::1/64"])
        #expect(picture.links[1].impairmentLines == ["b:eth0 sends: rate 10mbit"])
        #expect(picture.summary == "3 nodes (2 hosts, 1 router), 2 links (1 down, 1 impaired)")
        #expect(DotRenderer.render(picture).contains("label=\"lab inline (live): "))

        let gone = Picture(Self.pair, live: LiveState(ends: ["c:eth1": live.ends["c:eth1"]!], missingNodes: ["b"]))
        #expect(gone.links.map(\.isDown) == [true, true], "an end that is gone is a link down")
        #expect(gone.node(named: "b")?.missing == true)
        #expect(AsciiRenderer.render(gone).contains("[b] MISSING"))
        #expect(DotRenderer.render(gone).contains(">missing</FONT>"))
    }
}
