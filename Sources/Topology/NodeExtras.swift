import Yams

/// A file a node sees in place of the host's /etc/NAME: written to /etc/netns/NAMESPACE/NAME,
/// which `ip netns exec` and `nslab exec` bind over /etc/NAME inside the node.
public struct NodeFile: Sendable, Equatable {
    /// A name directly under /etc: "hosts", "resolv.conf".
    public var name: String
    public var content: String
    public var location: SourceLocation

    public init(name: String, content: String, location: SourceLocation) {
        self.name = name; self.content = content; self.location = location
    }
}

/// A process a node runs once the lab is up (every link and route in place).
public struct NodeCommand: Sendable, Equatable {
    /// What is executed: ["/bin/sh", "-c", TEXT] for the string form, the list as written otherwise.
    public var argv: [String]
    /// As the topology wrote it, for messages and `inspect`.
    public var text: String
    public var location: SourceLocation

    public init(argv: [String], text: String, location: SourceLocation) {
        self.argv = argv; self.text = text; self.location = location
    }

    /// The string form: one shell command line, run by /bin/sh -c.
    public static func shell(_ line: String, location: SourceLocation) -> NodeCommand {
        NodeCommand(argv: ["/bin/sh", "-c", line], text: line, location: location)
    }
}

extension Names {
    static let etcFileNameLimit = 255

    /// Names of per-node /etc files. Only names directly under /etc: `ip netns exec` binds each
    /// entry of /etc/netns/NAME over the same name in /etc, so a directory there would hide the
    /// host's whole /etc/DIR inside the node, not one file of it.
    static func etcFileProblem(_ text: String) -> Problem? {
        let what = "file name"
        let allowed = "ASCII letters, digits, '_', '.', '+' and '-'"
        if text.isEmpty { return Problem("\(what) is empty", hint: "name a file of /etc, such as hosts or resolv.conf") }
        if text.contains("/") {
            return Problem("\(what) \(quoted(text)) contains '/': only files directly in /etc can be given per node",
                           hint: "`ip netns exec` binds each entry of /etc/netns/NODE over /etc/ENTRY, so a "
                               + "subdirectory would hide the host's whole /etc/DIR inside the node; name a file "
                               + "such as hosts or resolv.conf")
        }
        if text == "." || text == ".." {
            return Problem("\(what) \(quoted(text)) is not usable: it means a directory, not a file",
                           hint: "name a file of /etc, such as hosts or resolv.conf")
        }
        if let odd = text.unicodeScalars.first(where: { !(isNameCharacter($0) || $0 == "+") }) {
            return Problem("\(what) \(quoted(text)) contains \(odd.isASCII ? "'\(odd)'" : describe(odd)), which is not allowed",
                           hint: "use \(allowed)")
        }
        if text.utf8.count > etcFileNameLimit {
            return Problem("\(what) \(quoted(text)) is \(text.utf8.count) characters long, more than \(etcFileNameLimit)")
        }
        return nil
    }
}

extension TopologyDecoder {
    /// A node's `files:` and `commands:`.
    mutating func decodeNodeExtras(_ fields: [String: Entry], into node: inout DraftNode) {
        if let entry = fields["files"], !isNull(entry.value) { node.files = decodeFiles(entry.value, node: node.name) }
        if let entry = fields["commands"], !isNull(entry.value) {
            node.commands = decodeCommands(entry.value, node: node.name)
        }
    }

    private mutating func decodeFiles(_ value: YAMLNode, node: String) -> [NodeFile] {
        guard case .mapping(let mapping) = value else {
            error(location(value), "'files' must be a mapping from file names in /etc to their text, found \(describe(value))",
                  hint: "e.g. `files: { hosts: \"127.0.1.1 \(node)\\n\" }`, or a `|` block for several lines")
            return []
        }
        var files: [NodeFile] = []
        for entry in entries(mapping, what: "in 'files' of node \(Names.quoted(node))") {
            if let problem = Names.etcFileProblem(entry.key) {
                error(entry.keyLocation, problem.message, hint: problem.hint)
                continue
            }
            guard case .scalar(let scalar) = entry.value, !isNull(entry.value) else {
                error(location(entry.value), "the text of file \(Names.quoted(entry.key)) must be a string, found \(describe(entry.value))",
                      hint: "write the file's lines as a `|` block or a quoted string with \\n")
                continue
            }
            files.append(NodeFile(name: entry.key, content: scalar.string, location: entry.keyLocation))
        }
        return files
    }

    private mutating func decodeCommands(_ value: YAMLNode, node: String) -> [NodeCommand] {
        let formHint = "write a shell command line (run with /bin/sh -c) or a list of words (run as is), "
            + "e.g. `commands: [\"python3 -m http.server 8080\", [iperf3, -s]]`"
        guard case .sequence(let items) = value else {
            error(location(value), "'commands' must be a list of commands, found \(describe(value))", hint: formHint)
            return []
        }
        var commands: [NodeCommand] = []
        for item in items {
            switch item {
            case .scalar(let scalar) where !isNull(item):
                if scalar.string.allSatisfy(\.isWhitespace) {
                    error(location(item), "command is empty", hint: formHint)
                } else {
                    commands.append(.shell(scalar.string, location: location(item)))
                }
            case .sequence(let words):
                var argv: [String] = []
                for word in words {
                    if let text = text(word, "a word of a command") { argv.append(text) }
                }
                guard argv.count == words.count else { continue }
                if argv.first?.isEmpty ?? true {
                    error(location(item), "command has no program to run", hint: formHint)
                } else {
                    commands.append(NodeCommand(argv: argv, text: argv.joined(separator: " "), location: location(item)))
                }
            default:
                error(location(item), "a command must be a string or a list of words, found \(describe(item))", hint: formHint)
            }
        }
        return commands
    }
}
