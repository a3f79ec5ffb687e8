import Foundation
import Testing
@testable import Topology

/// A node's `files:` and `commands:`: decoding and every diagnostic at its place.
@Suite struct NodeExtrasTests {
    @Test func filesAndCommandsDecode() throws {
        let topology = try #require(decode("""
        name: lab
        nodes:
          alpha:
            files:
              hosts: |
                127.0.0.1 localhost
                127.0.1.1 alpha
              resolv.conf: "nameserver 192.0.2.53\\n"
            commands:
              - python3 -m http.server 8080
              - [iperf3, -s, -p, 5201]
          beta:

        """))
        let alpha = try #require(topology.node(named: "alpha"))
        #expect(alpha.files.map(\.name) == ["hosts", "resolv.conf"])
        #expect(alpha.files[0].content == "127.0.0.1 localhost\n127.0.1.1 alpha\n")
        #expect(alpha.files[1].content == "nameserver 192.0.2.53\n")
        #expect(alpha.files[0].location.description == "lab.yaml:5:7")
        #expect(alpha.commands.map(\.argv) == [["/bin/sh", "-c", "python3 -m http.server 8080"], ["iperf3", "-s", "-p", "5201"]])
        #expect(alpha.commands[1].text == "iperf3 -s -p 5201")
        #expect(alpha.commands[0].location.description == "lab.yaml:10:9")
        #expect(topology.node(named: "beta")?.files.isEmpty == true)
    }

    @Test func misspeltKeysSuggestTheNewOnes() {
        expectOnly("name: lab\nnodes:\n  a: { file: { hosts: x } }\n", "lab.yaml:3:8", "unknown key 'file' in node 'a'",
                   hint: "did you mean 'files'?")
        expectOnly("name: lab\nnodes:\n  a: { comands: [ls] }\n", "lab.yaml:3:8", "unknown key 'comands' in node 'a'",
                   hint: "did you mean 'commands'?")
    }

    @Test func fileNamesMustBePlainNamesDirectlyInEtc() {
        expectOnly("name: lab\nnodes:\n  a:\n    files: { ssh/ssh_config: x }\n", "lab.yaml:4:14",
                   "contains '/': only files directly in /etc", hint: "would hide the host's whole /etc/DIR")
        expectOnly("name: lab\nnodes:\n  a:\n    files: { ..: x }\n", "lab.yaml:4:14", "'..' is not usable")
        expectOnly("name: lab\nnodes:\n  a:\n    files: { \"ho sts\": x }\n", "lab.yaml:4:14", "contains ' ', which is not allowed")
        expectOnly("name: lab\nnodes:\n  a:\n    files: { \"\": x }\n", "lab.yaml:4:14", "file name is empty")
    }

    @Test func fileTextMustBeAString() {
        expectOnly("name: lab\nnodes:\n  a:\n    files: { hosts: [a, b] }\n", "lab.yaml:4:21",
                   "the text of file 'hosts' must be a string, found a list")
        expectOnly("name: lab\nnodes:\n  a:\n    files: [hosts]\n", "lab.yaml:4:12",
                   "'files' must be a mapping from file names in /etc to their text, found a list")
    }

    @Test func commandsMustBeAListOfLinesOrWordLists() {
        expectOnly("name: lab\nnodes:\n  a:\n    commands: iperf3 -s\n", "lab.yaml:4:15",
                   "'commands' must be a list of commands, found the string 'iperf3 -s'", hint: "/bin/sh -c")
        expectOnly("name: lab\nnodes:\n  a:\n    commands: [\"  \"]\n", "lab.yaml:4:16", "command is empty")
        expectOnly("name: lab\nnodes:\n  a:\n    commands: [{ run: ls }]\n", "lab.yaml:4:16",
                   "a command must be a string or a list of words, found a mapping")
        expectOnly("name: lab\nnodes:\n  a:\n    commands: [[ls, [x]]]\n", "lab.yaml:4:21", "a word of a command must be a string")
        expectOnly("name: lab\nnodes:\n  a:\n    commands: [[\"\", x]]\n", "lab.yaml:4:16", "command has no program to run")
    }

    @Test func duplicateFileIsReportedAtTheSecondCopy() {
        expectSome("name: lab\nnodes:\n  a:\n    files:\n      hosts: x\n      hosts: y\n", "lab.yaml:6:7", "duplicate key 'hosts'")
    }

    /// The schema's file-name pattern says what Names.etcFileProblem says.
    @Test func schemaFileNamePatternAgrees() throws {
        let data = try Data(contentsOf: SchemaTests.schemaURL)
        let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let definitions = try #require(schema["$defs"] as? [String: Any])
        let definition = try #require(definitions["etcFileName"] as? [String: Any])
        let expression = try NSRegularExpression(pattern: try #require(definition["pattern"] as? String))
        for sample in ["hosts", "resolv.conf", "gai.conf", "c++.conf", "a_b-c", ".hidden", ".", "..", "...", "ssh/config",
                       "", "a b", "h\u{f6}sts", "a#b", String(repeating: "f", count: 255), String(repeating: "f", count: 256)] {
            let matches = expression.firstMatch(in: sample, range: NSRange(sample.startIndex..., in: sample)) != nil
            #expect(matches == (Names.etcFileProblem(sample) == nil), "\(sample.debugDescription)")
        }
    }
}
