#if canImport(Glibc)
import Glibc
#endif

/// The real cause behind an errno that means a limit was reached, and what to raise. Without
/// it a big lab failed with "socket(AF_NETLINK): Too many open files" and no word on which
/// limit, or with a message about something else entirely.
public enum ResourceErrors {
    /// nil when `code` is not a limit.
    public static func explanation(of code: Int32) -> String? {
        switch code {
        case EMFILE:
            var limit = rlimit()
            let soft = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? String(limit.rlim_cur) : "its"
            return "EMFILE: this process reached its limit of \(soft) open files (`ulimit -n`); a lab needs about 2 "
                + "per node while nslab works on it: raise the limit, as root, with `ulimit -n N` in the shell "
                + "that runs nslab (nofile in /etc/security/limits.conf for logins)"
        case ENFILE:
            return "ENFILE: the system-wide limit of open files is reached: raise it with `sysctl -w fs.file-max=N`"
        case ENOMEM:
            return "ENOMEM: the kernel could not allocate memory for it: free memory, or make the lab smaller"
        case ENOSPC:
            return "ENOSPC: a kernel table is full (for mounts: `sysctl fs.mount-max`)"
        default:
            return nil
        }
    }
}
