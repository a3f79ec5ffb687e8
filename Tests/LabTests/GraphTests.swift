import Drawing
import Foundation
import Testing
@testable import Lab
import Topology
import TestSupport

let graphvizInstalled = sh("command -v dot").status == 0

/// `nslab graph` on files (no kernel needed) and on a deployed lab (root).
@Suite struct GraphCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let examples = ["hosts", "lan", "routers", "two-namespaces"]

    func graph(_ arguments: String) -> (status: Int32, output: String) {
        sh("cd \(Self.repository.path) && \(nslabBinary) graph \(arguments)")
    }

    /// Graphviz lays out every seed lab; its SVG names every node.
    @Test(.enabled(if: graphvizInstalled, "needs Graphviz's dot: apt-get install graphviz (scripts/install-deps.sh)"),
          arguments: examples)
    func svgOfEverySeedNamesEveryNode(_ name: String) throws {
        let result = graph("examples/\(name).yaml --format svg 2>/dev/null")
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("<?xml") && result.output.contains("</svg>"))
        let topology = try Topology.load(path: Self.repository.appendingPathComponent("examples/\(name).yaml").path)
        for node in topology.nodes {
            #expect(result.output.contains(">\(node.name)</text>"), "\(node.name) in the SVG of \(name)")
        }
    }

    @Test(.enabled(if: graphvizInstalled, "needs Graphviz's dot"))
    func pngWrittenWithOutput() throws {
        let path = "/tmp/nslab-graph-test-\(getpid()).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(graph("examples/lan.yaml -o \(path)").status == 0, "the format follows -o's extension")
        let bytes = try #require(FileManager.default.contents(atPath: path))
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    }

    @Test func withoutGraphvizSvgSaysWhatToInstall() {
        let result = sh("cd \(Self.repository.path) && env PATH=/nonexistent \(nslabBinary) graph examples/routers.yaml --format png -o /tmp/x.png 2>&1")
        #expect(result.status == 1)
        #expect(result.output == "nslab graph: svg and png need Graphviz's dot: apt-get install graphviz (dot, mermaid and ascii need nothing)\n")
        let text = sh("cd \(Self.repository.path) && env PATH=/nonexistent \(nslabBinary) graph examples/routers.yaml --format mermaid")
        #expect(text.status == 0 && text.output.hasPrefix("%% nslab graph"))
    }

    /// png is not written to a terminal (`script` gives the command one).
    @Test(.enabled(if: sh("command -v script").status == 0, "needs script (util-linux) for a terminal"))
    func pngToATerminalIsRefused() {
        let result = sh("cd \(Self.repository.path) && script -qec '\(nslabBinary) graph examples/lan.yaml --format png' /dev/null")
        #expect(result.status == 2)
        #expect(result.output.contains("png is binary: write it to a file with -o FILE.png"))
    }

    @Test func neitherFileNorLabIsBadInput() {
        let result = graph("no-such-lab-or-file 2>&1")
        #expect(result.status == 2)
        #expect(result.output.contains("no-such-lab-or-file is neither a file nor a deployed lab; give the path of a topology file"))
        let directory = graph("examples 2>&1")
        #expect(directory.status == 2 && directory.output.contains("is a directory"))
        let broken = graph("Tests/TopologyTests/Corpus/$(ls Tests/TopologyTests/Corpus | grep yaml | head -1) 2>&1")
        #expect(broken.status == 2, "\(broken.output)")
    }

    @Test(arguments: examples)
    func textOfEverySeedFitsEightyColumns(_ name: String) {
        let result = graph("examples/\(name).yaml")
        #expect(result.status == 0)
        #expect(result.output.split(separator: "\n").allSatisfy { $0.count <= 80 }, "\(result.output)")
    }
}

/// The live picture of a deployed lab marks what the kernel has now.
@Suite(.enabled(if: isRoot, needsRoot), .serialized)
struct LiveGraphTests {
    /// A link taken down with LinkControl after deploy is red and dashed in the DOT of the lab
    /// (through the library and through `nslab graph LAB`); the others are not.
    @Test func aLinkTakenDownIsMarkedDown() throws {
        let lab = TestLab("graphdown")
        defer { lab.cleanUp() }
        try lab.deploy(routersBody)
        let before = try LabPicture.read(lab: lab.name)
        #expect(before.isLive && before.links.allSatisfy { !$0.isDown })
        #expect(!DotRenderer.render(before).contains("DOWN"))

        try LinkControl.setState(lab: lab.name, target: "router02:gw02-veth0", up: false)
        let after = try LabPicture.read(lab: lab.name)
        #expect(after.links.map(\.isDown) == [false, true, false])
        let dot = DotRenderer.render(after)
        let down = "\"router01\":\"p1\":e -- \"router02\":\"p0\":w [color=\"#d62728\", fontcolor=\"#d62728\", style=dashed, penwidth=2.5, label=\"DOWN\"];"
        #expect(dot.contains(down), "\(dot)")
        #expect(dot.contains("\"ns01\":\"p0\":e -- \"router01\":\"p0\":w;"))

        let cli = sh("\(nslabBinary) graph \(lab.name) --format dot")
        #expect(cli.status == 0)
        #expect(cli.output.contains(down), "\(cli.output)")
        #expect(cli.output.contains("(live)"))
        let text = sh("\(nslabBinary) graph \(lab.name)").output
        #expect(text.contains(": gw01-veth1 172.16.0.1/24\n :   DOWN\n : gw02-veth0 172.16.0.2/24"), "\(text)")
    }

    /// An impairment set live (a rate: it needs no netem) is on the link, per end.
    @Test func anImpairmentSetLiveIsMarked() throws {
        let lab = TestLab("graphrate")
        defer { lab.cleanUp() }
        try lab.deploy(routersBody)
        var rate = Impairment()
        _ = rate.set("rate", to: "10mbit")
        try LinkControl.impair(lab: lab.name, target: "ns01:ns01-veth0", change: rate, onlyThisEnd: true)
        let picture = try LabPicture.read(lab: lab.name)
        #expect(picture.links[0].impairmentLines == ["ns01:ns01-veth0 sends: rate 10mbit"])
        #expect(!picture.links[0].isDown)
        #expect(DotRenderer.render(picture).contains("label=\"ns01:ns01-veth0 sends: rate 10mbit\""))
    }
}
