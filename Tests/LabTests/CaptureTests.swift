import CShims
import Foundation
import Testing
@testable import Lab
import TestSupport

@Suite(.enabled(if: isRoot, "needs root: creates namespaces and veth pairs"), .serialized)
struct CaptureTests {
    static let body = """
        nodes: { a: {}, b: {} }
        links:
          - endpoints: [a:eth0, b:eth0]
            addresses: [10.78.0.1/24, 10.78.0.2/24]

        """

    /// -w with a filter and -c: tcpdump -r reads the file back and shows the ICMP echoes.
    @Test func pcapWrittenWithWIsReadByTcpdump() throws {
        let lab = TestLab("capw")
        defer { lab.cleanUp() }
        try lab.deploy(Self.body)
        let file = "/tmp/\(lab.name).pcap"
        defer { try? FileManager.default.removeItem(atPath: file) }
        sh("(ip netns exec \(lab.namespace("a")) ping -n -c 8 -i 0.2 10.78.0.2 >/dev/null 2>&1 &)")
        let run = sh("timeout 15 \(nslabBinary) capture \(lab.name) b:eth0 -w \(file) -c 4 icmp 2>&1")
        #expect(run.status == 0, "\(run.output)")
        let read = sh("tcpdump -nr \(file) 2>&1")
        #expect(read.status == 0, "\(read.output)")
        #expect(read.output.contains("link-type EN10MB"), "\(read.output)")
        let lines = read.output.split(separator: "\n").filter { $0.contains(" IP ") }
        #expect(lines.count == 4, "\(read.output)")
        #expect(lines.contains { $0.contains("10.78.0.1 > 10.78.0.2: ICMP echo request") }, "\(read.output)")
        #expect(lines.contains { $0.contains("10.78.0.2 > 10.78.0.1: ICMP echo reply") }, "\(read.output)")
        // Classic pcap, microseconds, Ethernet.
        let header = try #require(FileManager.default.contents(atPath: file)).prefix(24)
        #expect(Array(header.prefix(4)) == [0xd4, 0xc3, 0xb2, 0xa1])
        #expect(Array(header.suffix(4)) == [1, 0, 0, 0])
    }

    /// Without -w: one line per packet; SIGINT stops it and the file it writes stays whole.
    @Test func summaryLinesAndCtrlC() throws {
        let lab = TestLab("capline")
        defer { lab.cleanUp() }
        try lab.deploy(Self.body)
        sh("(ip netns exec \(lab.namespace("a")) ping -n -c 6 -i 0.2 10.78.0.2 >/dev/null 2>&1 &)")
        let run = sh("timeout 15 \(nslabBinary) capture \(lab.name) a:eth0 -c 4 icmp 2>/dev/null")
        #expect(run.status == 0)
        let lines = run.output.split(separator: "\n")
        #expect(lines.count == 4, "\(run.output)")
        #expect(lines.contains { $0.contains("out 98 IPv4 10.78.0.1 > 10.78.0.2 ICMP echo request") }, "\(run.output)")
        #expect(lines.contains { $0.contains("in  98 IPv4 10.78.0.2 > 10.78.0.1 ICMP echo reply") }, "\(run.output)")

        let file = "/tmp/\(lab.name).pcap"
        defer { try? FileManager.default.removeItem(atPath: file) }
        sh("(ip netns exec \(lab.namespace("a")) ping -n -c 5 -i 0.2 10.78.0.2 >/dev/null 2>&1 &)")
        let interrupted = sh("timeout -s INT 1.5 \(nslabBinary) capture \(lab.name) a:eth0 -w \(file) icmp 2>&1")
        #expect(interrupted.output.contains("packets captured"), "stopped by SIGINT and said so: \(interrupted.output)")
        let read = sh("tcpdump -nr \(file) 2>&1")
        #expect(read.status == 0 && read.output.contains("ICMP echo"), "\(read.output)")
    }

    @Test func aFilterTcpdumpRefusesIsBadInput() throws {
        let lab = TestLab("capbad")
        defer { lab.cleanUp() }
        try lab.deploy(Self.body)
        let run = sh("\(nslabBinary) capture \(lab.name) a:eth0 -c 1 'no such filter' 2>&1")
        #expect(run.status == 2)
        #expect(run.output.contains("cannot compile the filter"), "\(run.output)")
        #expect(sh("\(nslabBinary) capture \(lab.name) a:eth7 -c 1 2>&1").status == 2)
    }
}
