import CShims
import Foundation
import Synchronization
import Testing
@testable import Lab
import Topology
@_exported import TestSupport

/// Kernel tests need root: they create namespaces, veth pairs and mounts.
let isRoot = getuid() == 0
let needsRoot: Comment = "needs root: creates namespaces, veth pairs and mounts"

/// The command-line tool, as `swift test` builds it beside the tests.
let nslabBinary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent(".build/debug/nslab").path

/// What a test must leave as it found: namespaces, their mounts, /etc/netns entries, lab records;
/// without those of other tests (names `tDIGITS-…`), which run in parallel and come and go.
/// `ls`'s "DIR:" headers and blank lines are left out too: /etc/netns and /run/nslab themselves
/// exist or not depending on whether another test's lab is deployed at that moment.
func systemSnapshot() -> String {
    sh("{ ip netns list; grep ' /run/netns/' /proc/mounts; ls -1 /etc/netns /run/nslab; } 2>/dev/null | grep -Ev '(^|/)t[0-9]+-|:$|^$'")
        .output
}

/// For a test that writes into /etc/netns itself: makes /etc/netns if it is missing, marked as
/// nslab's so that whichever lab of the tests running in parallel leaves it last removes it, and
/// returns what to call at the end (remove it again if it is empty by then).
func borrowEtcNetns() -> () -> Void {
    guard !FileManager.default.fileExists(atPath: "/etc/netns") else { return {} }
    mkdir("/etc/netns", 0o755)
    _ = setxattr("/etc/netns", NodeFiles.rootMark, "1", 1, 0)
    return { rmdir("/etc/netns") }
}

/// A lab name and namespace prefix no other test (or test run) uses.
struct TestLab {
    let name: String
    let prefix: String

    /// Labs made so far by this test process: with a random suffix, sixty labs in one run
    /// collided often enough (birthday odds on 900 values) to make two tests share a prefix.
    private static let made = Mutex(0)

    init(_ base: String) {
        let number = Self.made.withLock { count in
            count += 1
            return count
        }
        let tag = String(format: "%05d%03d", Int(getpid() % 100000), number)
        name = "t\(tag)-\(base)"
        prefix = "t\(tag)-"
    }

    func namespace(_ node: String) -> String { prefix + node }

    /// Deploys YAML (with `name:` and `prefix:` filled in from this test lab).
    func deploy(_ body: String) throws -> DeployResult {
        let text = "name: \(name)\nprefix: \(prefix)\n" + body
        return try LabDeployer.deploy(try Topology.parse(yaml: text, file: "\(name).yaml"), sourceText: text)
    }

    /// Removes everything, whatever state a failed test left: the lab by its record, then any
    /// namespace with this test's prefix (they are unique to this test).
    func cleanUp() {
        _ = try? LabDestroyer.destroy(lab: name)
        for namespace in sh("ip netns list 2>/dev/null").output.split(separator: "\n") {
            let ns = namespace.split(separator: " ").first.map(String.init) ?? ""
            if ns.hasPrefix(prefix) { sh("ip netns delete \(ns)") }
        }
        try? FileManager.default.removeItem(atPath: "\(LabRecord.root)/\(name)")
    }

    func namespaces() -> [String] {
        sh("ip netns list 2>/dev/null").output.split(separator: "\n")
            .compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix(prefix) }.sorted()
    }

    func exec(_ node: String, _ command: String) -> (status: Int32, output: String) {
        sh("ip netns exec \(namespace(node)) \(command)")
    }
}

/// An example topology from examples/ without its `name:` line (and comment lines), which
/// TestLab.deploy writes: the kernel tests deploy the examples themselves, not copies that could
/// drift from them.
func exampleBody(_ file: String) -> String {
    let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/\(file)")
    let text = (try? String(contentsOf: example, encoding: .utf8)) ?? ""
    return text.split(separator: "\n", omittingEmptySubsequences: false)
        .filter { !$0.hasPrefix("name:") && !$0.hasPrefix("#") }.joined(separator: "\n")
}

/// examples/routers.yaml (seed 001).
let routersBody = exampleBody("routers.yaml")
