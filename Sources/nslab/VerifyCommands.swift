import ArgumentParser
import Foundation
import Lab
import NetAddress
import Synchronization
import Topology
#if canImport(Glibc)
import Glibc
#endif

/// reportingErrors, plus the errors of the probing commands (2: bad request, 1: failure).
func reportingProbeErrors(_ body: () throws -> Void) throws {
    try reportingErrors {
        do {
            try body()
        } catch let error as ProbeError {
            note("nslab: \(error)")
            throw ExitCode(error.exitCode)
        }
    }
}

func familyOption(_ v4: Bool, _ v6: Bool) -> IPAddress.Family? { v4 ? .ipv4 : (v6 ? .ipv6 : nil) }

/// Set by SIGINT so that ping prints its statistics before it exits, as ping does.
let interrupted = Atomic<Bool>(false)

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "ICMP echo from inside a node, as iputils ping (nothing needs to be installed in the lab).",
        discussion: "DST is a node (its first address), NODE:INTERFACE or an address. Exit status: 0 if any reply came, 1 if none, 2 on error.")

    @OptionGroup var labOption: LabOption
    @Argument(help: "The node to ping from.") var source: String
    @Argument(help: "A node, NODE:INTERFACE or an address.") var destination: String
    @Option(name: .customShort("c"), help: "Stop after this many requests (default: until interrupted).") var count: Int?
    @Option(name: .customShort("i"), help: "Seconds between requests.") var interval: Double = 1
    @Option(name: .customShort("W"), help: "Seconds to wait for replies after the last request.") var timeout: Double = 1
    @Option(name: .customShort("I"), help: "Source address (or interface) of the source node.") var interface: String?
    @Flag(name: .customShort("4"), help: "Use the node's IPv4 address.") var ipv4 = false
    @Flag(name: .customShort("6"), help: "Use the node's IPv6 address.") var ipv6 = false

    func run() throws {
        SpreadCommands.forward(node: source, lab: labOption.lab)
        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        var statistics = PingStatistics()
        try reportingProbeErrors {
            do {
                statistics = try Pinger.ping(
                    lab: labOption.lab, from: source, to: destination,
                    options: PingOptions(count: count, interval: max(0.002, interval), timeout: timeout, source: interface,
                                         family: familyOption(ipv4, ipv6)),
                    output: { print($0); fflush(nil) }, shouldStop: { interrupted.load(ordering: .relaxed) })
            } catch let error as PingSendError {
                note("nslab ping: \(error)")
                throw ExitCode(2)
            }
        }
        if statistics.exitCode != 0 { throw ExitCode(statistics.exitCode) }
    }
}

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The path from a node to a destination hop by hop, as traceroute -I shows it, each hop named node:interface.",
        discussion: "All TTLs are probed at once. Exit status: 0 the destination answered, 1 it did not, 2 bad input.")

    @OptionGroup var labOption: LabOption
    @Argument(help: "The node to trace from.") var source: String
    @Argument(help: "A node, NODE:INTERFACE or an address.") var destination: String
    @Option(name: .customShort("m"), help: "Maximum number of hops.") var maxHops = 30
    @Option(name: .customShort("q"), help: "Probes per hop.") var queries = 3
    @Option(name: .customShort("W"), help: "Seconds to wait for answers.") var timeout: Double = 1
    @Flag(name: .customShort("4")) var ipv4 = false
    @Flag(name: .customShort("6")) var ipv6 = false
    @Flag(help: "Machine-readable output.") var json = false

    func run() throws {
        SpreadCommands.forward(node: source, lab: labOption.lab)
        try reportingProbeErrors {
            let result = try Tracer.trace(lab: labOption.lab, from: source, to: destination,
                                          options: TraceOptions(maxHops: max(1, min(maxHops, 255)), queries: max(1, min(queries, 10)),
                                                                timeout: timeout, family: familyOption(ipv4, ipv6)))
            if json { try printJSON(result) } else { print(Tracer.render(result)) }
            if !result.reached { throw ExitCode(1) }
        }
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Why a node does or does not reach a destination: the request and the reply walked hop by hop through the live routing state.",
        discussion: "Reads routes, addresses, link state, forwarding and neighbour entries of every node over netlink, names the first broken hop and its cause, and checks the verdict with a real echo. Exit status: 0 reachable, 1 not, 2 bad input.")

    @OptionGroup var labOption: LabOption
    @Argument(help: "The node the packets start from.") var source: String
    @Argument(help: "A node, NODE:INTERFACE or an address.") var destination: String
    @Option(name: .customShort("I"), help: "Source address (default: the one the kernel would choose).") var sourceAddress: String?
    @Option(name: .customShort("t"), help: "TTL (IPv6: hop limit) of the echo request, 1 to 255, as ping -t; the reply leaves with the answering node's default, 64.")
    var ttl = PacketTTL.kernelDefault
    @Flag(name: .customShort("4")) var ipv4 = false
    @Flag(name: .customShort("6")) var ipv6 = false
    @Flag(help: "Machine-readable output.") var json = false

    func validate() throws {
        guard (1...255).contains(ttl) else { throw ValidationError("-t takes a TTL from 1 to 255, not \(ttl)") }
    }

    func run() throws {
        // A spread lab's path is walked from here across every host, wherever the source is.
        try reportingProbeErrors {
            let report = try Explainer.explain(lab: labOption.lab, from: source, to: destination, sourceAddress: sourceAddress,
                                               family: familyOption(ipv4, ipv6), ttl: ttl)
            if json { try printJSON(report) } else { print(Explainer.render(report)) }
            if !report.observedReply { throw ExitCode(1) }
        }
    }
}

/// The path model of this machine's part of a lab, as JSON: what the machine that deployed a
/// spread lab reads from each host to explain a path across all of them. Not for people.
struct Model: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "This machine's part of a lab as explain's path model, in JSON (used between nslabs of a spread lab).",
        shouldDisplay: false)

    @Argument(help: "The lab.") var lab: String

    func run() throws {
        try reportingProbeErrors {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(try LabNetwork.read(lab: lab).model().nodes))
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that a lab works: every node to every address of every other node, in parallel, and the topology's expectations.",
        discussion: "Failed pairs are grouped by where and why they break (`998 pairs: hub: forwarding-off`). For big labs, --sample K probes K random destination nodes per node (the seed is printed; --seed replays it); --from and --to keep to the pairs from or to one node. Exit status: 0 when every expectation holds (without expectations: every pair probed answers), 1 otherwise, 2 on bad input. With a topology FILE, its `expect:` list is checked against the deployed lab (no redeploy needed after editing it).")

    @Argument(help: "A lab name or its topology file.") var lab: String
    @Flag(help: "Machine-readable output.") var json = false
    @Option(help: "Also write the results as JUnit XML to this file.") var junit: String?
    @Option(name: .customShort("W"), help: "Seconds to wait for each reply (each probe is sent twice before it counts as lost).") var timeout: Double = 0.5
    @Flag(help: "Check only the expectations, not every pair.") var expectationsOnly = false
    @Option(help: ArgumentHelp("Probe K random destination nodes (all their addresses) per node instead of all of them.", valueName: "K")) var sample: Int?
    @Option(help: ArgumentHelp("Seed of --sample's choice, to replay a run (printed by every sampled run).", valueName: "S")) var seed: UInt64?
    @Option(help: ArgumentHelp("Only probe from this node.", valueName: "NODE")) var from: String?
    @Option(help: ArgumentHelp("Only probe this node's addresses.", valueName: "NODE")) var to: String?
    @OptionGroup var output: QuietOption

    func validate() throws {
        if let sample, sample < 1 { throw ValidationError("--sample takes a number of destination nodes per node, 1 or more") }
        if seed != nil, sample == nil { throw ValidationError("--seed replays a sampled run: give --sample K with it") }
        if sample != nil, to != nil {
            throw ValidationError("--sample chooses the destinations and --to names one: use one of them")
        }
        if expectationsOnly, sample != nil || from != nil || to != nil {
            throw ValidationError("--expectations-only probes no pairs: leave out --sample, --from and --to")
        }
    }

    func run() throws {
        let name = (try? labName(from: lab)) ?? lab
        if SpreadLab.isSpread(lab: name) {
            // Every host probes from its own nodes, to every node of the lab.
            var arguments = ["verify", name, "-W", String(timeout)] + (json ? ["--json"] : []) + (output.quiet ? ["--quiet"] : [])
            if expectationsOnly { arguments.append("--expectations-only") }
            if let sample { arguments += ["--sample", String(sample), "--seed", String(seed ?? DestinationSample.randomSeed())] }
            if let to { arguments += ["--to", to] }
            return try reportingErrors {
                try SpreadCommands.onEveryHost(lab: name, arguments, json: json, local: verifyHere)
            }
        }
        try verifyHere()
    }

    private func verifyHere() throws {
        try reportingProbeErrors {
            var isDirectory: ObjCBool = false
            let isFile = FileManager.default.fileExists(atPath: lab, isDirectory: &isDirectory) && !isDirectory.boolValue
            let topology = isFile ? try Topology.load(path: lab) : nil
            let sampling = sample.map { DestinationSample(perNode: $0, seed: seed ?? DestinationSample.randomSeed()) }
            let progress = Progress(enabled: !output.quiet)
            defer { progress.finish() }
            var options = VerifyOptions(timeout: timeout, skipPairs: expectationsOnly, sample: sampling, from: from, to: to,
                                        failuresListed: json || junit != nil ? .max : VerifyView.listedFailures)
            options.progress = { progress.stage($0) }
            let report = try Verifier.verify(lab: topology?.name ?? lab, topology: topology, options: options)
            progress.finish()
            if let junit {
                do {
                    try Verifier.junit(report).write(toFile: junit, atomically: true, encoding: .utf8)
                } catch {
                    note("nslab: cannot write the JUnit report to \(junit): \(error.localizedDescription)")
                    throw ExitCode(2)
                }
            }
            if json {
                // A pair at a time (a big broken run lists a million), then the newline print adds.
                try Verifier.writeJSON(report) { FileHandle.standardOutput.write(Data($0.utf8)) }
                FileHandle.standardOutput.write(Data("\n".utf8))
            } else {
                print(VerifyView(report).render())
            }
            if !report.passed { throw ExitCode(1) }
        }
    }
}

/// `nslab verify` as text: a matrix for small labs, a summary, the failures grouped by cause,
/// and each failure with its explanation when there are few.
struct VerifyView {
    let report: VerifyReport
    static let matrixLimit = 12
    /// Failures listed one by one up to this many; beyond, the groups say it.
    static let listedFailures = 30
    static let listedGroups = 20

    init(_ report: VerifyReport) { self.report = report }

    func render() -> String {
        var out: [String] = []
        if let sample = report.sample {
            out.append("sample: \(counted(sample.perNode, "destination node")) per node, seed \(sample.seed) "
                       + "(replay with --sample \(sample.perNode) --seed \(sample.seed))")
        }
        if report.probes > 0 {
            if report.allPairsListed, report.nodes.count <= VerifyView.matrixLimit {
                out.append(matrix())
            }
            let scope = [report.from.map { "from \($0)" }, report.to.map { "to \($0)" }].compactMap { $0 }.joined(separator: " ")
            out.append("\(counted(report.nodes.count, "node")), \(counted(report.probes, "probe"))\(scope.isEmpty ? "" : " " + scope): "
                       + "\(report.answered) answered, \(report.failedPairs) failed in \(String(format: "%.0f", report.seconds * 1000)) ms")
            if !report.failureGroups.isEmpty {
                out.append("failures by where and why they break:")
                for group in report.failureGroups.prefix(VerifyView.listedGroups) {
                    out.append("  \(group.summary)")
                    out.append("      e.g. \(group.example)")
                }
                if report.failureGroups.count > VerifyView.listedGroups {
                    out.append("  … and \(report.failureGroups.count - VerifyView.listedGroups) more causes (--json lists them all)")
                }
            }
            if report.failedPairs <= VerifyView.listedFailures {
                for pair in report.pairs where !pair.reachable {
                    out.append("  ✗ \(pair.from) → \(pair.to) (\(pair.address)): \(pair.outcome)")
                    if let explanation = pair.explanation { out.append("      \(explanation)") }
                }
            } else {
                out.append("  (\(report.failedPairs) failed pairs: --json lists each with its explanation)")
            }
        } else if report.sample != nil || report.from != nil || report.to != nil {
            out.append("no pairs to probe (\(counted(report.nodes.count, "node")))")
        }
        if !report.expectations.isEmpty {
            out.append("expectations:")
            for result in report.expectations {
                out.append("  \(result.holds ? "✓" : "✗") \(result.expectation)  (\(result.detail))")
                if !result.holds {
                    out.append("      at \(result.location)")
                    if let explanation = result.explanation { out.append("      \(explanation)") }
                }
            }
            let failed = report.expectations.filter { !$0.holds }.count
            out.append("\(report.expectations.count - failed) of \(counted(report.expectations.count, "expectation")) \(report.expectations.count - failed == 1 ? "holds" : "hold")")
        }
        out.append(report.passed ? "PASS" : "FAIL")
        return out.joined(separator: "\n")
    }

    /// Rows are sources, columns destinations: ✓ with the slowest RTT over the node's
    /// addresses, ✗ when none answered, k/n when some did.
    func matrix() -> String {
        var cells: [String: [PairResult]] = [:]
        for pair in report.pairs { cells["\(pair.from)>\(pair.to)", default: []].append(pair) }
        let rows = report.nodes.map { from in
            [from] + report.nodes.map { to -> String in
                if to == from { return "-" }
                guard let pairs = cells["\(from)>\(to)"], !pairs.isEmpty else { return "" }
                let ok = pairs.filter(\.reachable)
                if ok.count == pairs.count {
                    return String(format: "✓ %.2f", ok.compactMap(\.milliseconds).max() ?? 0)
                }
                return ok.isEmpty ? "✗" : "✗ \(ok.count)/\(pairs.count)"
            }
        }
        return Table(header: ["FROM \\ TO (ms)"] + report.nodes, rows: rows).render()
    }
}
