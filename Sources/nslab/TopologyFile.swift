import Foundation
import Topology

/// A topology file as the commands that take one read it: nslab's own or a containerlab file,
/// decoded and validated, what it leaves aside said on stderr (`file:line:column: note: …`).
enum TopologyFile {
    /// The topology, and the text a deploy records (the file itself, or for a containerlab
    /// file the nslab file it amounts to).
    static func load(_ path: String) throws -> (text: String, topology: Topology) {
        let source = try Topology.readText(path: path)
        let topology = try Topology.parse(yaml: source, file: path)
        for diagnostic in topology.notes {
            note("\(diagnostic.location): note: \(diagnostic.message)" + (diagnostic.hint.map { "\n    hint: \($0)" } ?? ""))
        }
        return (topology.recordedText(source: source), topology)
    }
}
