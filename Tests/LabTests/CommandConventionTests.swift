import Foundation
import Testing
@testable import Lab
import TestSupport

/// One convention for every command: each help says its exit statuses, commands that show
/// progress take -q/--quiet, commands whose output is data take --json, and that JSON parses.
@Suite("Command-line conventions")
struct CommandConventionTests {
    /// The subcommands `nslab --help` lists.
    static func subcommands() -> [String] {
        let help = sh("\(nslabBinary) --help").output
        guard let start = help.range(of: "SUBCOMMANDS:") else { return [] }
        return help[start.upperBound...].split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first else { return nil }
            return String(word)
        }.filter { $0 != "help" }
    }

    static let progressCommands = ["deploy", "destroy", "verify", "wait"]
    static let dataCommands = ["list", "inspect", "verify", "trace", "explain", "link", "doctor", "diff", "validate",
                               "events", "version", "wait", "deploy"]

    @Test func everyHelpSaysItsExitStatus() {
        let commands = Self.subcommands()
        #expect(commands.count >= 24, "subcommands found: \(commands)")
        for command in commands {
            let help = sh("\(nslabBinary) help \(command)")
            #expect(help.status == 0, "nslab help \(command)")
            #expect(help.output.contains("Exit status"), "nslab help \(command) does not say its exit status:\n\(help.output)")
        }
        #expect(sh("\(nslabBinary) --help").output.contains("Exit status"))
    }

    @Test func quietAndJSONWhereTheyBelong() {
        for command in Self.progressCommands {
            #expect(sh("\(nslabBinary) help \(command)").output.contains("-q, --quiet"), "\(command) has no -q/--quiet")
        }
        for command in Self.dataCommands {
            #expect(sh("\(nslabBinary) help \(command)").output.contains("--json"), "\(command) has no --json")
        }
        // --lab is one option with one help text wherever it appears.
        let labHelps = Set(Self.subcommands().compactMap { command in
            sh("\(nslabBinary) help \(command)").output.split(separator: "\n").first { $0.contains("--lab <LAB>") && !$0.hasPrefix("USAGE") }
                .map { $0.trimmingCharacters(in: .whitespaces) }
        })
        #expect(labHelps.count == 1, "--lab differs between commands: \(labHelps)")
    }

    /// A JSON document (or one per line), parsed.
    static func parses(_ text: String, lines: Bool = false) -> Bool {
        let documents = lines ? text.split(separator: "\n").map(String.init) : [text]
        return !documents.isEmpty && documents.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }
    }

    static var routersFile: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/routers.yaml").path
    }

    @Test func dashAsOutputFileIsStandardOutput() throws {
        let directory = NSTemporaryDirectory() + "nslab-dash-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = sh("cd \(directory) && \(nslabBinary) generate chain --nodes 3 -o -")
        #expect(result.status == 0 && result.output.contains("name: chain3"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/-"))
    }

    @Test func jsonOfCommandsWithoutALab() {
        for command in ["list --json", "version --json", "validate --json --file-only \(Self.routersFile)",
                        "doctor --json --lab t-no-such-lab-\(getpid())"] {
            let result = sh("\(nslabBinary) \(command) 2>/dev/null")
            #expect(Self.parses(result.output), "nslab \(command): \(result.output)")
        }
    }

    @Test(.enabled(if: isRoot, "\(needsRoot)"))
    func jsonOfCommandsOnALab() throws {
        let lab = TestLab("json")
        defer { lab.cleanUp() }
        let file = "/tmp/\(lab.name).yaml"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try ("name: \(lab.name)\nprefix: \(lab.prefix)\n" + routersBody).write(toFile: file, atomically: true, encoding: .utf8)
        let diffBefore = sh("\(nslabBinary) diff --json \(file) 2>/dev/null")
        #expect(diffBefore.status == 1 && Self.parses(diffBefore.output), "diff of a lab not deployed: \(diffBefore.output)")
        let deployed = sh("\(nslabBinary) deploy -q --json \(file) 2>&1")
        #expect(deployed.status == 0 && Self.parses(deployed.output), "deploy: \(deployed.output)")

        let name = lab.name
        for command in ["inspect --json \(name)", "verify -q --json \(name)", "trace --json --lab \(name) ns01 ns02",
                        "explain --json --lab \(name) ns01 ns02", "link \(name) router01:gw01-veth1 show --json",
                        "wait -q --json \(name)", "diff --json \(file)", "list --json"] {
            let result = sh("\(nslabBinary) \(command) 2>/dev/null")
            #expect(result.status == 0, "nslab \(command) exited \(result.status)")
            #expect(Self.parses(result.output), "nslab \(command): \(result.output)")
        }
        // events: one JSON object per line, while the lab is destroyed.
        let events = sh("""
            \(nslabBinary) events --json \(name) > /tmp/\(name).events 2> /tmp/\(name).err & pid=$!; \
            for i in $(seq 100); do grep -q following /tmp/\(name).err && break; sleep 0.05; done; \
            \(nslabBinary) destroy -q \(name) >/dev/null; wait $pid; cat /tmp/\(name).events; rm -f /tmp/\(name).events /tmp/\(name).err
            """)
        #expect(Self.parses(events.output, lines: true) && events.output.contains("lab-destroyed"), "events: \(events.output)")
    }
}
