/// nslab's version: the one place it is written. `nslab --version` prints it, and
/// scripts/package.sh names the Debian package after it (it asks the binary it just built).
enum NSLabVersion {
    static let number = "0.1.0"

    /// The git commit the binary was built from, or "unknown" for a plain `swift build`:
    /// scripts/package.sh writes it into BuildCommit.generated.swift (gitignored, removed after
    /// the build) and compiles with `-D NSLAB_BUILD_COMMIT` so that file is used.
    static var commit: String {
        #if NSLAB_BUILD_COMMIT
        return generatedBuildCommit
        #else
        return "unknown"
        #endif
    }

    /// What `nslab --version` prints: "0.1.0 (commit 1a2b3c4d5e6f)".
    static var line: String { "\(number) (commit \(commit))" }
}
