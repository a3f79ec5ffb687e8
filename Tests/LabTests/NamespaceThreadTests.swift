import Foundation
import Testing
import CShims
import Namespaces
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// Entering a namespace is only possible on a thread that exits with its work.
@Suite("Kernel: entering a namespace", .enabled(if: isRoot, needsRoot))
struct NamespaceThreadTests {
    @Test func enteringIsRefusedOutsideANamespaceThreadAndWorksInsideOne() throws {
        let name = "tnsthread\(getpid())"
        let (namespace, _) = try NetworkNamespace.create(name) { () }
        defer { try? NamedNamespaces.delete(name) }
        let ownInode = try #require(UInt64(sh("stat -L -c %i /proc/\(getpid())/task/\(nslab_gettid())/ns/net").output
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(throws: NamespaceError.self) { try namespace.enter() }
        // Still in the namespace the test began in.
        let after = UInt64(sh("stat -L -c %i /proc/\(getpid())/task/\(nslab_gettid())/ns/net").output
            .trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(after == ownInode)
        // On a worker it works: the thread sees the namespace's own loopback only.
        let links = try namespace.run { try NetlinkSocket().links().map(\.name) }
        #expect(links == ["lo"])
        let inside = try NamespaceThread.forEach([namespace], threads: 1) { ns -> Bool in
            try ns.enter()
            return true
        }
        #expect(inside == [true])
    }
}
