import ArgumentParser
import Lab
import Topology

struct Script: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the iproute2 commands that build the lab by hand, commented by step.",
        discussion: """
        What `nslab deploy` does, as the tutorials type it: ip netns add, ip link add … type veth, \
        ip address add, ip link set … up, ip route add, /etc/netns files. Run on a clean machine \
        (sh SCRIPT, as root) it gives the same kernel state as deploy, without nslab's record, \
        interface aliases and host names. Nothing is changed by this command. \
        \(ExitStatus.standard)
        """)

    @Argument(help: "The topology file: nslab YAML, or a containerlab topology (recognised by its `topology:` key).")
    var file: String

    func run() throws {
        try reportingErrors {
            let topology = try TopologyFile.load(file).topology
            print(LabScript.text(for: topology), terminator: "")
        }
    }
}
