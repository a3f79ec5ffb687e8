import Testing
@testable import Drawing
import Topology

/// DOT, Mermaid and text for the seed labs: exact output for routers.yaml, and every node, link
/// end and address present for every example.
@Suite struct RendererTests {
    @Test func routersAsDOT() throws {
        let routers = try #require(example("routers.yaml"))
        let dot = DotRenderer.render(Picture(routers))
        func node(_ name: String, _ kind: String, _ rows: [String]) -> String {
            let look = kind == "host" ? "shape=box, style=\"rounded,filled\", fillcolor=\"#dcebf7\", color=\"#2f6fa5\""
                : "shape=ellipse, style=\"filled\", fillcolor=\"#fde2c4\", color=\"#c46a1b\""
            let cells = rows.enumerated().map { "<TR><TD PORT=\"p\($0.offset)\" ALIGN=\"LEFT\"><FONT POINT-SIZE=\"9\">\($0.element)</FONT></TD></TR>" }
            return "  \"\(name)\" [\(look), label=<<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\">"
                + "<TR><TD><B>\(name)</B></TD></TR>\(cells.joined())</TABLE>>];"
        }
        let expected = [
            "// nslab graph: examples/routers.yaml: 4 nodes (2 hosts, 2 routers), 3 links",
            "graph \"routers\" {",
            "  graph [label=\"lab routers: 4 nodes (2 hosts, 2 routers), 3 links\\nhosts: blue boxes, routers: orange ellipses\", "
                + "labelloc=t, fontname=\"Helvetica\", fontsize=12, pad=0.3, layout=dot, rankdir=LR, ranksep=1.0, nodesep=0.4, splines=true];",
            "  node [fontname=\"Helvetica\", fontsize=11, penwidth=1.5, margin=0.04];",
            "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\", penwidth=1.4];",
            node("ns01", "host", ["ns01-veth0 192.168.0.1/24"]),
            node("ns02", "host", ["ns02-veth0 10.0.0.1/24"]),
            node("router01", "router", ["gw01-veth0 192.168.0.254/24", "gw01-veth1 172.16.0.1/24"]),
            node("router02", "router", ["gw02-veth0 172.16.0.2/24", "gw02-veth1 10.0.0.254/24"]),
            "  \"ns01\":\"p0\":e -- \"router01\":\"p0\":w;",
            "  \"router01\":\"p1\":e -- \"router02\":\"p0\":w;",
            "  \"router02\":\"p1\":e -- \"ns02\":\"p0\":w;",
            "}",
        ]
        #expect(dot.split(separator: "\n").map(String.init) == expected)
    }

    @Test func routersAsMermaid() throws {
        let routers = try #require(example("routers.yaml"))
        #expect(MermaidRenderer.render(Picture(routers)) == """
            %% nslab graph: examples/routers.yaml: 4 nodes (2 hosts, 2 routers), 3 links
            flowchart LR
              n1["ns01"]:::host
              n2["ns02"]:::host
              n3(["router01"]):::router
              n4(["router02"]):::router
              n1 ---|"ns01:ns01-veth0 192.168.0.1/24<br>router01:gw01-veth0 192.168.0.254/24"| n3
              n3 ---|"router01:gw01-veth1 172.16.0.1/24<br>router02:gw02-veth0 172.16.0.2/24"| n4
              n4 ---|"router02:gw02-veth1 10.0.0.254/24<br>ns02:ns02-veth0 10.0.0.1/24"| n2
              classDef host fill:#dcebf7,stroke:#2f6fa5
              classDef router fill:#fde2c4,stroke:#c46a1b
              classDef bridge fill:#dff0d8,stroke:#3c7d3c
              classDef missing fill:#eeeeee,stroke:#888888,stroke-dasharray:4 3

            """)
    }

    @Test func routersAsText() throws {
        let routers = try #require(example("routers.yaml"))
        #expect(AsciiRenderer.render(Picture(routers)) == """
            lab routers as examples/routers.yaml declares it
            4 nodes (2 hosts, 2 routers), 3 links
            [host]  (router)  <bridge>    links: | up   : DOWN   ~ impairment

            [ns01]
             | ns01-veth0 192.168.0.1/24
             |
             | gw01-veth0 192.168.0.254/24
            (router01)
             | gw01-veth1 172.16.0.1/24
             |
             | gw02-veth0 172.16.0.2/24
            (router02)
             | gw02-veth1 10.0.0.254/24
             |
             | ns02-veth0 10.0.0.1/24
            [ns02]

            """)
    }

    /// lan.yaml: two switches, leaves side by side off a branch, the router below.
    @Test func lanAsText() throws {
        let lan = try #require(example("lan.yaml"))
        let text = AsciiRenderer.render(Picture(lan))
        #expect(text.contains("""
            <sw1>
             +---+--------------------+--------------------+
             |   | eth0               | eth1               | eth2
             |   |                    |                    |
             |   | eth0 10.1.0.1/24   | eth0 10.1.0.2/24   | eth0 10.1.0.3/24
             |  [a1]                 [a2]                 [a3]
             |
             | eth3
             |
             | eth0 10.1.0.254/24
            (gw)
            """), "\(text)")
    }

    @Test(arguments: ["hosts.yaml", "lan.yaml", "routers.yaml", "two-namespaces.yaml"])
    func everyNodeEndAndAddressIsInEveryFormat(_ name: String) throws {
        let topology = try #require(example(name))
        let picture = Picture(topology)
        let dot = DotRenderer.render(picture), mermaid = MermaidRenderer.render(picture), text = AsciiRenderer.render(picture)
        for node in topology.nodes {
            #expect(dot.contains("\"\(node.name)\" [") && dot.contains("<B>\(node.name)</B>"), "\(node.name) in DOT")
            #expect(mermaid.contains("\"\(node.name)\"]") || mermaid.contains("\"\(node.name)\"}}"), "\(node.name) in Mermaid")
            #expect(text.contains(AsciiRenderer.box(Picture.Node(name: node.name, kind: node.kind))), "\(node.name) in text")
        }
        for link in topology.links {
            for end in link.endpoints {
                let words = ([end.interface] + end.addresses.map(\.description)).joined(separator: " ")
                #expect(dot.contains(">\(words)</FONT>"), "\(end.id) in DOT")
                #expect(mermaid.contains(end.id + (end.addresses.isEmpty ? "" : " " + end.addresses[0].description)), "\(end.id) in Mermaid")
                #expect(text.contains(words), "\(end.id) in text")
            }
        }
        #expect(dot.components(separatedBy: " -- ").count - 1 == topology.links.count)
        #expect(mermaid.components(separatedBy: "---|").count - 1 == topology.links.count)
    }

    @Test(arguments: ["dual-stack-ring.yaml", "hosts.yaml", "lan.yaml", "routers.yaml", "two-namespaces.yaml", "vlan-trunk.yaml"])
    func everyExampleIsDrawnWithinEightyColumns(_ name: String) throws {
        let text = AsciiRenderer.render(Picture(try #require(example(name))))
        #expect(widest(text) <= 80, "\(text)")
        #expect(!text.contains("\nlinks:"), "a drawing, not the list form:\n\(text)")
    }

    /// Bridge ports show their VLANs and routers their 802.1Q sub-interfaces with addresses.
    @Test func vlansAreDrawnInEveryFormat() throws {
        let topology = try #require(example("vlan-trunk.yaml"))
        let picture = Picture(topology)
        let gw = try #require(topology.links.flatMap(\.endpoints).first { $0.node == "gw" })
        let sub = try #require(gw.subinterfaces.first { $0.vlan == 10 })
        let subLine = "\(sub.name) \(try #require(sub.addresses.first))"
        for (format, text) in [("dot", DotRenderer.render(picture)), ("mermaid", MermaidRenderer.render(picture)),
                               ("ascii", AsciiRenderer.render(picture))] {
            for words in ["vlan access 10", "vlan access 40", "vlan trunk 10,20,30,40", subLine] {
                #expect(text.contains(words), "\(format) lacks \(words)")
            }
        }
    }

    @Test func exampleSetIsComplete() {
        #expect(examples.map(\.name) == ["bgp.yaml", "dual-stack-ring.yaml", "hosts.yaml", "lan.yaml", "ospf-ring.yaml", "routers.yaml",
                                          "two-namespaces.yaml", "vlan-trunk.yaml"])
    }

    /// 100-node labs: the text is the list form, every link on it, no line over 80 columns; the
    /// DOT is laid out ranked for a star or leaf-spine and by force for a grid.
    @Test func hundredNodeLabsAreListedWithinEightyColumns() throws {
        let labs: [(GeneratedShape, DotRenderer.Layout)] = [
            (try .grid(rows: 10, columns: 10, torus: false), .force),
            (try .star(leaves: 99), .ranked),
            (try .leafSpine(spines: 4, leaves: 16, hostsPerLeaf: 5), .ranked),
        ]
        for (shape, layout) in labs {
            let topology = shape.topology(name: "big", dualStack: true)
            #expect(topology.nodes.count == 100)
            let picture = Picture(topology)
            let text = AsciiRenderer.render(picture)
            #expect(widest(text) <= 80, "\(text)")
            #expect(text.contains("\nlinks:"))
            for link in topology.links {
                for end in link.endpoints { #expect(text.contains("\(end.id) \(end.addresses[0])")) }
            }
            #expect(DotRenderer.layout(for: picture) == layout)
            #expect(DotRenderer.render(picture).contains("layout=\(layout == .ranked ? "dot" : "neato")"))
        }
    }

    /// A small generated lab is drawn; the links a spanning tree leaves out are listed under it.
    @Test func cyclesAreListedUnderTheDrawing() throws {
        let text = AsciiRenderer.render(Picture(try GeneratedShape.ring(nodes: 6).topology(name: "ring")))
        #expect(text.contains("(r1)") && text.contains("(r6)"))
        #expect(text.contains("also linked (closing cycles, not drawn above):\n  r4:eth1 10.0.0.13/30 --- r5:eth0 10.0.0.14/30"), "\(text)")
        #expect(widest(text) <= 80)
    }

    @Test func aLabTooWideToDrawIsListed() throws {
        // A name longer than a 40-column line cannot be drawn in a box; in 80 columns it can.
        let hosts = (1...3).map { "a-host-whose-name-is-too-long-for-forty-columns-\($0)" }
        let topology = lab([("sw", .bridge)] + hosts.map { ($0, .host) },
                           hosts.enumerated().map { ("\($1):eth0", "sw:p\($0)", ["10.0.0.\($0 + 1)/24"], []) })
        let narrow = AsciiRenderer.render(Picture(topology), width: 40)
        #expect(narrow.contains("\nlinks:"), "\(narrow)")
        #expect(widest(narrow) <= 40, "\(narrow)")
        let wide = AsciiRenderer.render(Picture(topology), width: 80)
        #expect(widest(wide) <= 80, "\(wide)")
    }
}
