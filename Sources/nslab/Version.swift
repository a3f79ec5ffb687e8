import ArgumentParser

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

/// `nslab version [--json]`: what `--version` prints, and the same as data for scripts.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print nslab's version and the git commit it was built from.",
        discussion: "The same as `nslab --version`. \(ExitStatus.standard)")

    @Flag(help: "As JSON: {\"version\", \"commit\"}.")
    var json = false

    struct Report: Encodable {
        var version: String
        var commit: String
    }

    func run() throws {
        if json { return try printJSON(Report(version: NSLabVersion.number, commit: NSLabVersion.commit)) }
        print(NSLabVersion.line)
    }
}
