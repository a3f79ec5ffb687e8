import ArgumentParser
import Foundation
import Lab
import Topology

struct Export: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case clab }

    static let configuration = CommandConfiguration(
        abstract: "Write a lab as a containerlab topology.",
        discussion: """
        Hosts and routers become linux nodes whose exec lines set their addresses, MTUs, \
        forwarding and routes; switches become bridge nodes. What containerlab cannot be told \
        (files, commands, impairments, VLANs, links down) is listed at the top. nslab deploys \
        the export to the same kernel state:
          nslab export routers --format clab -o routers.clab.yml && nslab deploy routers.clab.yml
        \(ExitStatus.standard)
        """)

    @Argument(help: "A deployed lab's name, or a topology file.") var lab: String
    @Option(help: "The format to write: clab (containerlab).") var format: Format
    @Option(help: "The image each linux node runs in containerlab (it needs ip and sysctl).")
    var image = "ghcr.io/hellt/network-multitool"
    @Option(name: .shortAndLong, help: "Write to this file instead of stdout.") var output: String?
    @Flag(help: "Overwrite the output file if it exists.") var force = false

    func run() throws {
        try reportingErrors {
            let topology = try Self.topology(of: lab)
            try OutputFile.write(ContainerlabWriter.yaml(of: topology, image: image), to: output, force: force)
        }
    }

    /// A path that exists is a topology file; anything else names a deployed lab, written from
    /// the topology it was last deployed or converged from.
    static func topology(of argument: String) throws -> Topology {
        if FileManager.default.fileExists(atPath: argument) { return try TopologyFile.load(argument).topology }
        guard (try? LabRecord.validate(lab: argument)) != nil, LabRecord.exists(lab: argument) else {
            throw BadInput("\(argument) is neither a file nor a deployed lab; give a topology file or a lab `nslab list` shows")
        }
        let (summary, text) = try LabRecord.read(lab: argument)
        guard let text else { throw BadInput("lab \(argument) has no recorded topology; export the file it was deployed from") }
        return try Topology.parse(yaml: text, file: summary.file ?? argument)
    }
}
