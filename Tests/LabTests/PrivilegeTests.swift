import Foundation
import Testing

/// Without CAP_NET_ADMIN and CAP_SYS_ADMIN nslab says so in one line and exits 2, before it
/// changes anything (run as `nobody` through setpriv, from util-linux).
@Suite(.enabled(if: isRoot, "needs root to become nobody"), .serialized)
struct PrivilegeTests {
    @Test func deployWithoutPrivilegesIsOneLineAndExit2() throws {
        let lab = TestLab("nopriv")
        defer { lab.cleanUp() }
        let file = "/tmp/\(lab.name).yaml"
        try "name: \(lab.name)\nprefix: \(lab.prefix)\nnodes: { a: , b: }\nlinks:\n  - endpoints: [a, b]\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        // The test binary's directory may not be readable by nobody: use a copy of the CLI.
        let copy = "/tmp/\(lab.name)-nslab"
        sh("cp \(nslabBinary) \(copy) && chmod 755 \(copy) && chmod 644 \(file)")
        defer { unlink(copy) }
        let result = sh("setpriv --reuid=nobody --regid=nogroup --clear-groups \(copy) deploy \(file)")
        #expect(result.status == 2, "\(result.output)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 1, "\(result.output)")
        #expect(result.output.contains("CAP_SYS_ADMIN and CAP_NET_ADMIN") && result.output.contains("run it as root"))
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/run/nslab/\(lab.name)"))
    }
}
