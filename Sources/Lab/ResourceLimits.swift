import CShims
import Netlink
#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit, which a lab's size runs into. A stock session allows 1,024
/// open files (the soft limit) while the hard limit is usually far higher. Deploy, converge and
/// verify once held files per node (a namespace and a netlink socket, a raw socket per family),
/// so a 1,000-node lab did not fit; now each keeps a bounded number open whatever the lab's size
/// (NodeNamespace, OpenNamespaces, ProbeSockets). As Go programs do, nslab also raises the soft
/// limit to the hard one at start, and refuses (before changing anything) work that would still
/// not fit, saying what to raise.
public enum ResourceLimits {
    /// Raises the soft RLIMIT_NOFILE to the hard limit. Failing changes nothing: the checks
    /// below then say what is missing.
    public static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// One malloc arena for every thread. glibc gives each thread that allocates its own
    /// arena (up to 8 per core), and memory freed in one is kept for that arena's later use:
    /// deploy's namespace threads and verify's probing threads each held freed pages of their own,
    /// which made a 10,000-node deploy's peak resident set 135 MiB for a 63 MiB heap. nslab's
    /// threads allocate little once running, so sharing one arena costs no measurable time.
    public static func shareMallocArena() {
        _ = mallopt(M_ARENA_MAX, 1)
    }

    /// (soft, hard) RLIMIT_NOFILE now.
    public static func openFileLimit() -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (.max, .max) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Files open in this process now (its /proc/self/fd entries).
    static func openFiles() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { count += 1 }
        }
        return max(0, count - 1)  // less the directory being read
    }

    /// Files deploy holds at its peak, whatever the lab's size: the namespaces of one batch of
    /// links (LabDeployer.namespacesPerLinkBatch), a namespace and socket per worker thread, the
    /// /etc file writers', the record. It used to be 2 per node for the whole run (2,009 measured
    /// for 1,001 nodes); now nothing of a node stays open between steps (NodeNamespace).
    public static let deployFiles = 128

    /// Files this process may still open under its soft limit.
    static func spareOpenFiles() -> Int {
        let (soft, _) = openFileLimit()
        return Int(min(soft, UInt64(Int.max / 2))) - openFiles()
    }

    /// Up to `wanted` files for work that can use fewer (more at once is only faster), leaving
    /// `margin` for the rest; refused when not even `least` fit.
    static func share(wanted: Int, least: Int, margin: Int = 32, for work: String) throws -> Int {
        let spare = spareOpenFiles() - margin
        guard spare >= least else {
            throw LabError.refused(shortage(needed: UInt64(openFiles() + margin + least), for: work))
        }
        return min(wanted, spare)
    }

    /// Refuses work that needs `needed` more open files than the limit allows, before it starts.
    static func requireOpenFiles(_ needed: Int, for work: String) throws {
        let (soft, _) = openFileLimit()
        let total = UInt64(needed + openFiles())
        guard total > soft else { return }
        throw LabError.refused(shortage(needed: total, for: work))
    }

    /// "…needs about N open files; the limit is M": what to raise, and how.
    static func shortage(needed: UInt64, for work: String) -> String {
        let (soft, hard) = openFileLimit()
        // A quarter more than needed, as a power of two: room for what the estimate leaves out.
        let wanted = max(needed + needed / 4, 1024).roundedUpToPowerOfTwo
        let raise = hard >= wanted
            ? "raise the soft limit with `ulimit -Sn \(wanted)` (the hard limit is \(hard))"
            : "raise the hard limit, as root, with `ulimit -n \(wanted)` in the shell that runs nslab "
                + "(or `nofile` in /etc/security/limits.conf, LimitNOFILE= for a service)"
        return "\(work) needs about \(needed) open files at once, and this process may have \(soft) "
            + "(ulimit -n; nothing was changed): \(raise)"
    }
}

private extension UInt64 {
    var roundedUpToPowerOfTwo: UInt64 {
        var value: UInt64 = 1
        while value < self { value <<= 1 }
        return value
    }
}
