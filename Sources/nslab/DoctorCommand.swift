import ArgumentParser
import Foundation
import Lab

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find leftovers that look like nslab's, and clean them up.",
        discussion: """
        Finds records under /run/nslab whose namespaces are all gone, namespaces whose interfaces \
        carry nslab's alias but that no record lists, and namespaces that lost their name but live \
        on through a process. Nothing without nslab's record or alias is ever reported or touched. \
        Cleans up after asking (or at once with --yes); --lab keeps to one lab's leftovers. Exit \
        status: 0 nothing is left over, 1 leftovers remain, 2 bad input.
        """)

    @Flag(name: .shortAndLong, help: "Clean up without asking.") var yes = false
    @OptionGroup var labOption: LabOption
    @Flag(help: "Machine-readable output (the findings; with --yes, those that remain).") var json = false

    func run() throws {
        try reportingErrors {
            // Another lab's leftovers may be a deploy in progress elsewhere: --lab keeps to one.
            func examine() -> [DoctorFinding] { Lab.Doctor.examine().filter { labOption.lab == nil || $0.lab == labOption.lab } }
            var findings = examine()
            if findings.isEmpty {
                if json { try printJSON(findings) } else { print("no leftovers: every namespace and record of nslab's belongs to a lab") }
                return
            }
            if !json {
                for finding in findings {
                    var line = "\(finding.kind.rawValue)  lab \(finding.lab)  \(finding.subject): \(finding.detail)"
                    if !finding.processes.isEmpty { line += " (pids \(finding.processes.map(String.init).joined(separator: " ")))" }
                    print(line)
                }
            }
            var clean = yes
            if !clean && !json && isatty(0) == 1 {
                FileHandle.standardError.write(Data("clean up \(findings.count == 1 ? "this leftover" : "these \(findings.count) leftovers")? [y/N] ".utf8))
                clean = (readLine() ?? "").lowercased().hasPrefix("y")
            }
            if clean {
                for finding in findings { try Lab.Doctor.fix(finding) }
                findings = examine()
                if !json { print(findings.isEmpty ? "cleaned up; nothing is left over" : "\(counted(findings.count, "leftover")) \(findings.count == 1 ? "remains" : "remain")") }
            } else if !json {
                note("nothing changed; `nslab doctor --yes` cleans these up")
            }
            if json { try printJSON(findings) }
            if !findings.isEmpty { throw ExitCode(1) }
        }
    }
}
