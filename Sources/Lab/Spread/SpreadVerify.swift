import Foundation

extension VerifyReport {
    /// One report of a spread lab from its machines' reports, each probed from that machine's own
    /// nodes to every node of the lab: every pair and expectation, the counts added, the nodes in
    /// the order first named, passed when every machine's passed. The machines probe at the same
    /// time: the slowest one's time is the whole run's.
    public static func merging(_ reports: [VerifyReport], lab: String) -> VerifyReport {
        var nodes: [String] = []
        var seen = Set<String>()
        for node in reports.flatMap(\.nodes) where seen.insert(node).inserted { nodes.append(node) }
        return VerifyReport(lab: lab, nodes: nodes, pairs: reports.flatMap(\.pairs),
                            allPairsListed: reports.allSatisfy(\.allPairsListed),
                            probes: reports.map(\.probes).reduce(0, +), answered: reports.map(\.answered).reduce(0, +),
                            failedPairs: reports.map(\.failedPairs).reduce(0, +),
                            failureGroups: reports.flatMap(\.failureGroups).sorted { $0.pairs > $1.pairs },
                            sample: reports.first?.sample, from: nil, to: nil,
                            expectations: reports.flatMap(\.expectations), seconds: reports.map(\.seconds).max() ?? 0,
                            passed: reports.allSatisfy(\.passed))
    }
}
