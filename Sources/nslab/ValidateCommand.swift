import ArgumentParser
import Foundation
import Lab

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check topology files as deploy would, without changing anything.",
        discussion: """
        Every check deploy makes before it touches the kernel: the file itself (syntax, unknown \
        keys, names, addresses, routes, VLANs), and this machine: namespace names and \
        /etc/netns directories already taken by someone else or by another lab, per-node files \
        with nothing in /etc to bind over, `commands:` programs not on PATH, and the kernel \
        features the lab needs (veth, bridge, VLAN filtering and 802.1Q sub-interfaces, the netem \
        and tbf qdiscs), tried in a throwaway namespace (as root; not checked otherwise). Several \
        files are also checked against each other. A lab that is already deployed is not an error: \
        deploy converges it (`nslab diff` shows how). Each finding is written file:line:column: severity: message, with a hint. \
        Exit status: 0 when every file would deploy (warnings allowed), 2 otherwise.
        """)

    @Argument(help: "The topology files: nslab YAML, or containerlab topologies (recognised by their `topology:` key).")
    var files: [String]

    @Flag(help: "Print the findings as a JSON list of {file, line, column, severity, message, hint}; severity is error, warning or note.")
    var json = false

    @Flag(help: "Check the files alone, not against this machine (no names taken, programs or kernel features).")
    var fileOnly = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one topology file") }
    }

    func run() throws {
        let results = LabValidator.validate(files: files, options: .init(host: !fileOnly))
        if json {
            try printJSON(results.flatMap(\.diagnostics))
        } else {
            for result in results {
                for diagnostic in result.diagnostics { print(diagnostic) }
                print(summary(result))
            }
        }
        if !results.allSatisfy(\.isValid) { throw ExitCode(2) }
    }

    func summary(_ result: FileValidation) -> String {
        let errors = result.diagnostics.filter { $0.severity == .error }.count
        let warnings = result.diagnostics.filter { $0.severity == .warning }.count
        var counts: [String] = []
        if errors > 0 { counts.append(plural(errors, "error")) }
        if warnings > 0 { counts.append(plural(warnings, "warning")) }
        let what = result.lab.map { " (lab \($0): \(plural(result.nodes, "node")), \(plural(result.links, "link")))" } ?? ""
        let verdict = errors == 0 ? "valid" : "not valid"
        return "\(result.file): \(verdict)\(what)" + (counts.isEmpty ? "" : ": " + counts.joined(separator: ", "))
    }

    func plural(_ count: Int, _ word: String) -> String { "\(count) \(word)\(count == 1 ? "" : "s")" }
}
