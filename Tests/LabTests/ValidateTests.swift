import Foundation
import Testing
@testable import Lab
import Topology

/// A topology file of the test's own, removed by the caller (`defer { remove(path) }`).
private func writeTopology(_ text: String, name: String = #function) -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "nslab-validate-\(getpid())-\(safe)-\(UUID().uuidString.prefix(8)).yaml"
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return path
}

private func remove(_ paths: String...) {
    for path in paths { try? FileManager.default.removeItem(atPath: path) }
}

/// The JSON `nslab validate --json` prints: a list of objects.
private func decodeList(_ output: String) throws -> [[String: Any]] {
    let value = try JSONSerialization.jsonObject(with: Data(output.utf8))
    return try #require(value as? [[String: Any]], "not a JSON list: \(output)")
}

/// `nslab validate`: diagnostics and their JSON, without root (the file and the checks that need
/// no privileges).
@Suite struct ValidateTests {
    @Test func jsonHasEveryKeyHintNullWhenThereIsNone() throws {
        let diagnostics = [
            ValidationDiagnostic(SourceLocation(file: "a.yaml", line: 3, column: 7), .error, "unknown node \"x\"", hint: "did you mean \"ns01\"?"),
            ValidationDiagnostic(SourceLocation(file: "a.yaml", line: 1, column: 1), .warning, "not root"),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let list = try decodeList(String(decoding: try encoder.encode(diagnostics), as: UTF8.self))
        #expect(list.count == 2)
        #expect(Set(list[0].keys) == ["file", "line", "column", "severity", "message", "hint"])
        #expect(list[0]["file"] as? String == "a.yaml")
        #expect(list[0]["line"] as? Int == 3)
        #expect(list[0]["column"] as? Int == 7)
        #expect(list[0]["severity"] as? String == "error")
        #expect(list[0]["hint"] as? String == "did you mean \"ns01\"?")
        #expect(Set(list[1].keys) == ["file", "line", "column", "severity", "message", "hint"])
        #expect(list[1]["severity"] as? String == "warning")
        #expect(list[1]["hint"] is NSNull)
        #expect(diagnostics[0].description == "a.yaml:3:7: error: unknown node \"x\"\n    hint: did you mean \"ns01\"?")
    }

    /// The parser's errors come through with their places and hints, all of them, in file order.
    @Test func parseErrorsKeepTheirLocations() throws {
        let path = writeTopology("""
            name: broken
            nodes:
              a: { kind: rooter }
              b:
            links:
              - endpoints: [a, c]
                addresses: [10.0.0.1/24, 10.0.0.300/24]
            """)
        defer { remove(path) }
        let result = try #require(LabValidator.validate(files: [path], options: .init(host: false)).first)
        #expect(!result.isValid)
        #expect(result.lab == nil)
        let places = result.diagnostics.map { "\($0.line):\($0.column) \($0.severity)" }
        #expect(result.diagnostics.allSatisfy { $0.file == path && $0.severity == .error })
        #expect(result.diagnostics.count >= 3, "\(result.diagnostics)")
        #expect(places.first?.hasPrefix("3:") == true, "\(places)")  // kind: rooter
        #expect(result.diagnostics.contains { $0.line == 6 && $0.message.contains("c") }, "\(result.diagnostics)")
        #expect(result.diagnostics.contains { $0.line == 7 && $0.message.contains("10.0.0.300") }, "\(result.diagnostics)")
        #expect(result.diagnostics.map(\.line) == result.diagnostics.map(\.line).sorted())
        // The parser's own view of the same file, one for one.
        do {
            _ = try Topology.load(path: path)
            Issue.record("the file parsed")
        } catch {
            #expect(error.diagnostics.map { ValidationDiagnostic($0) } == result.diagnostics)
        }
    }

    @Test func anUnreadableFileIsOneErrorAtItsFirstLine() throws {
        let path = NSTemporaryDirectory() + "nslab-validate-missing-\(getpid()).yaml"
        let result = try #require(LabValidator.validate(files: [path]).first)
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first.map { ($0.line, $0.column, $0.severity) } ?? (0, 0, .note) == (1, 1, .error))
        #expect(result.diagnostics.first?.message.contains("cannot read topology file") == true)
    }

    /// A lab whose paths outlive the kernel's default TTL is told what deploy will do about it.
    @Test func longPathsAreANote() throws {
        let chain = YAMLWriter.yaml(of: try GeneratedShape.chain(nodes: 70).topology(name: "vt-long"))
        let long = writeTopology(chain)
        let kept = writeTopology(chain.replacingOccurrences(of: "\nnodes:", with: "\nttl: 64\nnodes:"))
        defer { remove(long, kept) }
        // One at a time: two files of the same lab would be one error.
        let results = [long, kept].flatMap { LabValidator.validate(files: [$0], options: .init(host: false)) }
        let notes = results[0].diagnostics.filter { $0.severity == .note }
        #expect(notes.count == 1 && notes[0].message.contains("TTL and hop limit 255 in every node: this lab has paths of 69 links"),
                "\(results[0].diagnostics)")
        #expect(results[0].isValid)
        #expect(results[1].diagnostics.isEmpty, "\(results[1].diagnostics)")
    }

    /// Two files that would take the same lab name or namespace names cannot both be deployed.
    @Test func filesAreCheckedAgainstEachOther() throws {
        let first = writeTopology("name: vt-one\nnodes:\n  a:\n  b:\n")
        let second = writeTopology("name: vt-two\nnodes:\n  x:\n  b:\n")
        let third = writeTopology("name: vt-one\nnodes:\n  q:\n")
        defer { remove(first, second, third) }
        let results = LabValidator.validate(files: [first, second, third], options: .init(host: false))
        #expect(results[0].isValid)
        let clash = results[1].diagnostics
        #expect(clash.count == 1, "\(clash)")
        #expect(clash.first.map { ($0.line, $0.column) } ?? (0, 0) == (4, 3))  // node b of the second file
        #expect(clash.first?.message.contains("namespace \"b\"") == true)
        #expect(clash.first?.message.contains(first) == true)
        #expect(results[2].diagnostics.first?.message.contains("lab \"vt-one\" is also the lab of \(first)") == true)
        #expect(!results[1].isValid && !results[2].isValid)
    }

    /// Host checks that need no root: a list-form command whose program is not installed, and a
    /// per-node file with nothing in /etc to bind over, each at its own line.
    @Test func missingProgramsAndEtcFilesAtTheirPlaces() throws {
        let program = "nslab-no-such-program-\(getpid())"
        let path = writeTopology("""
            name: vt-host-\(getpid())
            prefix: vt\(getpid())-
            nodes:
              a:
                commands:
                  - [\(program), --flag]
                  - "also-not-checked-shell-line"
                files: { nslab-no-such-file-\(getpid()): "x" }
            """)
        defer { remove(path) }
        let result = try #require(LabValidator.validate(files: [path], options: .init(host: true, kernel: false)).first)
        let errors = result.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 2, "\(result.diagnostics)")
        let missing = try #require(errors.first { $0.message.contains(program) })
        #expect((missing.line, missing.column) == (6, 9))
        #expect(missing.message.contains("not found (searched PATH)"))
        #expect(missing.hint != nil)
        let file = try #require(errors.first { $0.message.contains("/etc/nslab-no-such-file-") })
        #expect(file.line == 8)
        #expect(!result.isValid)
    }

    /// Where the lab first needs each kernel feature, and what a missing one turns into.
    @Test func kernelFeaturesAtTheirFirstUse() throws {
        let path = writeTopology("""
            name: vt-features
            nodes:
              a:
              b:
              c:
            links:
              - endpoints: [a, b]
                impair: { delay: 20ms }
              - endpoints: [b, c]
                impair: { rate: 10mbit }
              - endpoints: [{ node: c, vlans: { 10: 10.10.0.1/24 } }, a]
                impair: { loss: 1% }
            """)
        defer { remove(path) }
        let topology = try Topology.load(path: path)
        let needs = LabValidator.featuresNeeded(topology)
        let byFeature = Dictionary(uniqueKeysWithValues: needs.map { ($0.feature, $0) })
        #expect(Set(byFeature.keys) == [.veth, .netem, .tokenBucket, .vlan])
        #expect(byFeature[.veth].map { ($0.location.line, $0.count) } ?? (0, 0) == (7, 3))
        #expect(byFeature[.netem].map { ($0.location.line, $0.count) } ?? (0, 0) == (7, 4))  // both ends of two links
        #expect(byFeature[.tokenBucket].map { ($0.location.line, $0.count) } ?? (0, 0) == (9, 2))
        #expect(byFeature[.vlan]?.location.line == 11)

        let missingNetem = LabValidator.sorted(LabValidator.kernelDiagnostics(topology) { feature, _ in
            feature == .netem ? .missing("no netem here") : feature == .vlan ? .notChecked("needs root") : .available
        })
        #expect(missingNetem.count == 2, "\(missingNetem)")
        #expect(missingNetem[0].severity == .error && missingNetem[0].line == 7)
        #expect(missingNetem[0].message.contains("netem") && missingNetem[0].message.contains("3 more places"))
        #expect(missingNetem[0].hint?.contains("CONFIG_NET_SCH_NETEM") == true)
        #expect(missingNetem[1].severity == .warning && missingNetem[1].line == 11)
        #expect(missingNetem[1].message.contains("not checked: needs root"))
    }

    /// Where IPv6 is first used, for the error a kernel without IPv6 gets.
    @Test func firstIPv6UseIsTheEarliestAddressOrRoute() throws {
        let text = """
            name: vt-ipv6
            nodes:
              a: { routes: ["fd00:9::/64 via fd00::2"] }
              b:
            links:
              - endpoints: [a, b]
                addresses: [10.0.0.1/24, 10.0.0.2/24]
              - endpoints: [a, b]
                addresses: [fd00::1/64, fd00::2/64]
            """
        let topology = try Topology.parse(yaml: text, file: "v6.yaml")
        #expect(LabValidator.firstIPv6Use(topology)?.line == 3)
        let noRoute = try Topology.parse(yaml: text.replacingOccurrences(of: "{ routes: [\"fd00:9::/64 via fd00::2\"] }", with: ""), file: "v6.yaml")
        #expect(LabValidator.firstIPv6Use(noRoute)?.line == 8)
        let ipv4 = try Topology.parse(yaml: "name: v4\nnodes:\n  a:\n  b:\nlinks:\n  - endpoints: [a, b]\n    addresses: [10.0.0.1/24, 10.0.0.2/24]\n", file: "v4.yaml")
        #expect(LabValidator.firstIPv6Use(ipv4) == nil)
    }

    /// The command line: exit 0 for a valid file, 2 for a broken one, the JSON list on stdout.
    @Test func commandLineExitStatusAndJSON() throws {
        let good = writeTopology("name: vt-good\nnodes:\n  a:\n  b:\nlinks:\n  - endpoints: [a, b]\n")
        let bad = writeTopology("name: vt-bad\nnodes:\n  a:\nlinks:\n  - endpoints: [a, zz]\n")
        defer { remove(good, bad) }
        let valid = sh("\(nslabBinary) validate --file-only \(good)")
        #expect(valid.status == 0, "\(valid.output)")
        #expect(valid.output.contains("\(good): valid (lab vt-good: 2 nodes, 1 link)"), "\(valid.output)")
        let invalid = sh("\(nslabBinary) validate --file-only --json \(good) \(bad) 2>/dev/null")
        #expect(invalid.status == 2)
        let list = try decodeList(invalid.output)
        #expect(list.count == 1, "\(invalid.output)")
        #expect(list.first?["file"] as? String == bad)
        #expect(list.first?["line"] as? Int == 5)
        #expect(list.first?["severity"] as? String == "error")
        #expect((list.first?["message"] as? String)?.contains("zz") == true)
        let text = sh("\(nslabBinary) validate --file-only \(bad)")
        #expect(text.status == 2)
        #expect(text.output.contains("\(bad):5:"), "\(text.output)")
        #expect(text.output.contains("not valid"), "\(text.output)")
    }
}

/// Validate against the kernel: names already taken, the lab's own deployment, the features.
@Suite(.enabled(if: isRoot, "needs root: creates namespaces"), .serialized)
struct ValidateKernelTests {
    /// A namespace someone else made under a node's name is an error at that node's line,
    /// and validate changes nothing.
    @Test func aTakenNamespaceIsReportedAtItsNode() throws {
        let lab = TestLab("valtaken")
        let taken = lab.namespace("b")
        #expect(sh("ip netns add \(taken)").status == 0)
        defer { sh("ip netns delete \(taken)") }
        let path = writeTopology("name: \(lab.name)\nprefix: \(lab.prefix)\nnodes:\n  a:\n  b:\nlinks:\n  - endpoints: [a, b]\n")
        defer { remove(path) }
        let before = sh("{ ip netns list; ls /run/nslab /etc/netns; } 2>/dev/null").output
        let result = try #require(LabValidator.validate(files: [path]).first)
        #expect(!result.isValid)
        let errors = result.diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1, "\(result.diagnostics)")
        #expect(errors.first.map { ($0.line, $0.column) } ?? (0, 0) == (5, 3))
        #expect(errors.first?.message.contains("namespace \"\(taken)\" (node b) already exists") == true)
        #expect(errors.first?.hint?.contains("ip netns delete \(taken)") == true)
        #expect(sh("{ ip netns list; ls /run/nslab /etc/netns; } 2>/dev/null").output == before)
        let cli = sh("\(nslabBinary) validate --json \(path)")
        #expect(cli.status == 2)
        #expect(try decodeList(cli.output).contains { ($0["message"] as? String)?.contains(taken) == true })
    }

    /// Deployed from this very file, the lab's own namespaces and /etc files are not "taken";
    /// another lab's are, with that lab's name.
    @Test func theLabsOwnDeploymentIsNotACollision() throws {
        let lab = TestLab("valown")
        let other = TestLab("valother")
        defer { lab.cleanUp(); other.cleanUp() }
        let text = "name: \(lab.name)\nprefix: \(lab.prefix)\nnodes:\n  a:\n  b:\nlinks:\n  - endpoints: [a, b]\n"
        let path = writeTopology(text)
        // Another lab whose nodes have this lab's namespace names.
        let otherPath = writeTopology("name: \(other.name)\nprefix: \(lab.prefix)\nnodes:\n  a:\n")
        defer { remove(path, otherPath) }
        _ = try LabDeployer.deploy(try Topology.parse(yaml: text, file: path), sourceText: text)

        let own = try #require(LabValidator.validate(files: [path]).first)
        #expect(own.isValid, "\(own.diagnostics)")
        #expect(own.diagnostics.contains { $0.severity == .note && $0.message.contains("changes only what differs") })

        // A namespace of the deployed lab removed by hand: deploy converges it back, so the file
        // is still valid.
        sh("ip netns delete \(lab.namespace("b"))")
        let drifted = try #require(LabValidator.validate(files: [path]).first)
        #expect(drifted.isValid, "\(drifted.diagnostics)")

        let clash = try #require(LabValidator.validate(files: [otherPath]).first)
        #expect(!clash.isValid)
        #expect(clash.diagnostics.contains {
            $0.severity == .error && $0.line == 4 && $0.message.contains("belongs to lab \"\(lab.name)\"")
        }, "\(clash.diagnostics)")
    }

    /// What validate says of netem and VLANs agrees with what the kernel does (this project's
    /// kernel has neither; Debian's, in scripts/vm-test.sh, has both); veth is always there.
    @Test func kernelFeaturesAgreeWithTheKernel() throws {
        let path = writeTopology("""
            name: vt-kernel
            nodes:
              a:
              b:
            links:
              - endpoints: [{ node: a, vlans: { 10: 10.10.0.1/24 } }, b]
                impair: { delay: 5ms }
            """)
        defer { remove(path) }
        let topology = try Topology.load(path: path)
        #expect(KernelFeatures.probe(.veth, nil) == .available)
        let netem = KernelFeatures.probe(.netem, topology.links[0].impairment)
        #expect((netem == .available) == kernelHasNetem, "\(netem)")
        let vlan = KernelFeatures.probe(.vlan, nil)
        #expect((vlan == .available) == kernelHasVLANs, "\(vlan)")
        let result = try #require(LabValidator.validate(files: [path]).first)
        #expect(result.isValid == (kernelHasNetem && kernelHasVLANs), "\(result.diagnostics)")
        if !kernelHasNetem {
            #expect(result.diagnostics.contains { $0.severity == .error && $0.line == 6 && $0.message.contains("netem") })
        }
    }
}
