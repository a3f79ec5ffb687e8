import Foundation

/// nslab needs CAP_SYS_ADMIN (mounts, setns) and CAP_NET_ADMIN (links, addresses, routes).
/// Checked before anything changes so a user without them gets one line, not a half-built lab.
public enum Privileges {
    static let netAdmin = 12
    static let sysAdmin = 21

    public static func check(for action: String) throws {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let bits = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return }  // cannot tell: let the kernel answer
        var missing: [String] = []
        if bits & (1 << UInt64(sysAdmin)) == 0 { missing.append("CAP_SYS_ADMIN") }
        if bits & (1 << UInt64(netAdmin)) == 0 { missing.append("CAP_NET_ADMIN") }
        if !missing.isEmpty {
            throw LabError.privileges("nslab needs \(missing.joined(separator: " and ")) to \(action); run it as root (sudo nslab …)")
        }
    }
}
