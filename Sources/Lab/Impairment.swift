import Foundation
import Netlink
import Topology

/// Turns an Impairment into the one root qdisc that gives it, and a qdisc back into an
/// Impairment. netem does everything (its own rate included); when only a rate is asked for,
/// tbf does it instead, because it is exact at high rates and is there on kernels built
/// without netem (CONFIG_NET_SCH_NETEM), such as some cloud and microVM kernels.
public enum ImpairmentQdisc {
    /// Where Debian's iproute2 (and others) keep the delay distribution tables.
    static let distributionDirectories = ["/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/aarch64-linux-gnu/tc",
                                          "/usr/lib/tc", "/usr/lib64/tc", "/usr/share/tc"]

    static func probability(_ percent: Double) -> UInt32 {
        UInt32((min(max(percent, 0), 100) / 100 * Double(UInt32.max)).rounded())
    }

    static func percent(_ probability: UInt32) -> Double {
        (Double(probability) / Double(UInt32.max) * 100 * 10_000).rounded() / 10_000
    }

    /// The two root qdiscs nslab sets; the raw value is the kind the kernel reports.
    enum Kind: String {
        case netem, tbf
    }

    /// The root qdisc that gives `impairment`: tbf for a rate (and queue limit) alone, netem for
    /// everything else.
    static func kind(of impairment: Impairment) -> Kind {
        !impairment.needsNetem && impairment.rate != nil ? .tbf : .netem
    }

    /// The request that makes interface `index` send as `impairment` says.
    static func request(_ impairment: Impairment, index: Int32, name: String) throws -> NetlinkMessage {
        if kind(of: impairment) == .tbf, let rate = impairment.rate {
            let bytesPerSecond = max(rate / 8, 1)
            // 10 ms worth of bytes, at least 32 KiB so a GSO packet of a veth fits in one go.
            let burst = UInt32(clamping: max(bytesPerSecond / 100, 32 * 1024))
            let limit = impairment.limit.map { UInt32(clamping: UInt64($0) * 1514) }
                ?? UInt32(clamping: UInt64(burst) + bytesPerSecond / 20)  // about 50 ms of queue
            return QdiscRequest.replaceTokenBucket(index: index, name: name,
                                                   TokenBucketOptions(rate: bytesPerSecond, burst: burst, limit: limit))
        }
        var options = NetemOptions()
        options.latency = impairment.delay ?? 0
        options.jitter = impairment.jitter ?? 0
        if let limit = impairment.limit { options.limit = limit }
        options.loss = impairment.loss.map(probability) ?? 0
        options.lossCorrelation = impairment.lossCorrelation.map(probability) ?? 0
        options.duplicate = impairment.duplicate.map(probability) ?? 0
        options.corrupt = impairment.corrupt.map(probability) ?? 0
        options.reorder = impairment.reorder.map(probability) ?? 0
        options.rate = (impairment.rate ?? 0) / 8
        if let kind = impairment.distribution, kind != .uniform {
            options.distribution = try distributionTable(kind)
        }
        return QdiscRequest.replaceNetem(index: index, name: name, options)
    }

    /// iproute2's NAME.dist: whitespace-separated 16-bit integers, '#' starts a comment.
    static func distributionTable(_ kind: DelayDistribution) throws -> [Int16] {
        for directory in distributionDirectories {
            guard let text = try? String(contentsOfFile: "\(directory)/\(kind.rawValue).dist", encoding: .utf8) else { continue }
            return text.split(separator: "\n").flatMap { line in
                line.prefix { $0 != "#" }.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int16($0) }
            }
        }
        throw LabError.refused("no \(kind.rawValue).dist table found (looked in \(distributionDirectories.joined(separator: ", "))); install iproute2, or use distribution=uniform")
    }

    /// What a root qdisc nslab may have set does; nil for any other qdisc.
    public static func impairment(of qdisc: QdiscInfo) -> Impairment? {
        var result = Impairment()
        if let netem = qdisc.netem {
            if netem.latency > 0 { result.delay = netem.latency }
            if netem.jitter > 0 { result.jitter = netem.jitter }
            if netem.loss > 0 { result.loss = percent(netem.loss) }
            if netem.lossCorrelation > 0 { result.lossCorrelation = percent(netem.lossCorrelation) }
            if netem.duplicate > 0 { result.duplicate = percent(netem.duplicate) }
            if netem.corrupt > 0 { result.corrupt = percent(netem.corrupt) }
            if netem.reorder > 0 { result.reorder = percent(netem.reorder) }
            if netem.rate > 0 { result.rate = netem.rate * 8 }
            if netem.limit != 1000 { result.limit = netem.limit }
            return result
        }
        if let tbf = qdisc.tokenBucket {
            result.rate = tbf.rate * 8
            if tbf.limit % 1514 == 0 { result.limit = tbf.limit / 1514 }
            return result
        }
        return nil
    }

    /// Says what to do when the kernel has no netem, instead of its bare "unknown qdisc kind".
    static func explain(_ error: NetlinkError, impairment: Impairment, node: String) -> LabError {
        if impairment.needsNetem, error.code == ENOENT || error.kernelMessage?.contains("kind is unknown") == true {
            return .refused("this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is off), so delay, jitter, loss, duplicate, corrupt and reorder are unavailable on it; a rate alone (rate=10mbit) works through tbf")
        }
        return .kernel(error, node: node)
    }
}
