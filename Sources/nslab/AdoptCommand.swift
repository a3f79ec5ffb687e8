import ArgumentParser
import Foundation
import Lab
import Topology

struct Adopt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the topology file of namespaces made by hand; with --manage, make them a lab nslab manages.",
        discussion: """
        Reads each namespace (veth pairs between them with their interface names, addresses, MTU, \
        state, impairments, routes, forwarding, bridges and their ports, 802.1Q sub-interfaces, \
        /etc/netns/NAMESPACE files) and writes the topology file that deploys the same kernel state; \
        each node is named after its namespace. What a topology cannot say is listed as comments at \
        the top of the file. --manage also writes nslab's record, without rebuilding anything: \
        `nslab deploy FILE` then converges the lab, `inspect` and `destroy` work on it (destroy \
        removes the namespaces and their /etc/netns files).
          nslab adopt ns01 ns02 router01 router02 --name seed -o seed.yaml --manage
        \(ExitStatus.standard)
        """)

    @Argument(help: ArgumentHelp("The namespaces to adopt, as `ip netns list` names them.", valueName: "NS"))
    var namespaces: [String] = []

    @Option(help: "The lab's name (default: the namespaces' common prefix, or \"adopted\").") var name: String?
    @Option(name: .shortAndLong, help: "Write to this file instead of stdout (needed with --manage).") var output: String?
    @Flag(help: "Overwrite the output file if it exists.") var force = false
    @Flag(help: "Also make the namespaces a lab nslab manages, as if it had deployed the file.") var manage = false

    func run() throws {
        try reportingErrors {
            if manage && output == nil {
                throw BadInput("--manage needs -o FILE: the lab is deployed (converged) from that file afterwards")
            }
            let lab = name ?? Self.defaultName(namespaces)
            try LabRecord.validate(lab: lab)
            let adoption = try LabAdopter.adopt(namespaces: namespaces, lab: lab, file: output ?? "adopted.yaml")
            try OutputFile.write(adoption.text, to: output, force: force)
            let topology = adoption.topology
            if let output {
                note("wrote \(output): lab \(lab), \(counted(topology.nodes.count, "node")), \(counted(topology.links.count, "link"))"
                     + (adoption.notes.isEmpty ? "" : "; \(counted(adoption.notes.count, "thing")) not carried over (at the top of the file)"))
            }
            guard manage, let output else { return }
            Interruption.catchSignals()
            let result = try LabAdopter.manage(adoption, sourceText: adoption.text)
            ChangeListing.print(result.difference)
            print("lab \(lab) is managed by nslab now: `nslab deploy \(output)` converges it, `nslab destroy \(lab)` removes it")
        }
    }

    /// The namespaces' longest common prefix without trailing '-' or '_', when it makes a name.
    static func defaultName(_ namespaces: [String]) -> String {
        guard var common = namespaces.first else { return "adopted" }
        for name in namespaces.dropFirst() {
            common = String(zip(common, name).prefix { $0 == $1 }.map(\.0))
        }
        while let last = common.last, "-_.".contains(last) { common.removeLast() }
        return (try? LabRecord.validate(lab: common)) != nil && common.count >= 2 ? common : "adopted"
    }
}
