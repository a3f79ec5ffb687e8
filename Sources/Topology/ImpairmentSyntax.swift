/// How netem spreads jitter around the delay: uniform needs no table, the others load
/// iproute2's distribution files.
public enum DelayDistribution: String, Sendable, Codable, CaseIterable {
    case uniform, normal, pareto, paretonormal
}

/// What a link or an endpoint does to the packets it sends: netem's parameters in human units.
/// nil means "not set" (and, when merged, "leave as it was").
public struct Impairment: Sendable, Equatable, Codable {
    /// Nanoseconds.
    public var delay: UInt64?
    /// Nanoseconds, around `delay`.
    public var jitter: UInt64?
    public var distribution: DelayDistribution?
    /// Percentages, 0…100.
    public var loss: Double?
    /// How much each loss depends on the previous one (correlated loss), percent.
    public var lossCorrelation: Double?
    public var duplicate: Double?
    public var corrupt: Double?
    public var reorder: Double?
    /// Bits per second.
    public var rate: UInt64?
    /// Packets queued before dropping.
    public var limit: UInt32?

    public init() {}

    /// The keys `impair:` and `nslab link … set` accept, in the order docs list them.
    public static let keys = ["delay", "jitter", "distribution", "loss", "loss-correlation", "duplicate",
                              "corrupt", "reorder", "rate", "limit"]

    public var isEmpty: Bool { self == Impairment() }

    /// Needs netem (anything but a rate and a queue limit).
    public var needsNetem: Bool {
        delay != nil || jitter != nil || distribution != nil || loss != nil || lossCorrelation != nil
            || duplicate != nil || corrupt != nil || reorder != nil
    }

    /// Sets one parameter from its text, as tc writes it ("20ms", "1%", "10mbit", "1000").
    /// Returns what is wrong, or nil.
    public mutating func set(_ key: String, to text: String) -> String? {
        let value = text.trimmingSpaces.lowercased()
        switch key {
        case "delay", "jitter":
            guard let time = ImpairmentUnits.duration(value) else {
                return "'\(key)' must be a time such as 20ms, 500us or 1s, not '\(text)'"
            }
            if key == "delay" { delay = time } else { jitter = time }
        case "distribution":
            guard let kind = DelayDistribution(rawValue: value) else {
                return "'distribution' must be one of \(DelayDistribution.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'"
            }
            distribution = kind
        case "loss", "loss-correlation", "duplicate", "corrupt", "reorder":
            guard let percent = ImpairmentUnits.percent(value) else {
                return "'\(key)' must be a percentage from 0% to 100%, such as 1% or 0.5%, not '\(text)'"
            }
            switch key {
            case "loss": loss = percent
            case "loss-correlation": lossCorrelation = percent
            case "duplicate": duplicate = percent
            case "corrupt": corrupt = percent
            default: reorder = percent
            }
        case "rate":
            guard let bits = ImpairmentUnits.rate(value) else {
                return "'rate' must be a rate such as 10mbit, 512kbit, 1gbit or 125000bps, not '\(text)'"
            }
            rate = bits
        case "limit":
            guard let packets = UInt32(value), packets > 0 else {
                return "'limit' must be a number of packets (1 or more), not '\(text)'"
            }
            limit = packets
        default:
            return "unknown impairment '\(key)'; known: \(Impairment.keys.joined(separator: ", "))"
        }
        return nil
    }

    /// These parameters, with those `other` sets replacing them.
    public func merged(with other: Impairment) -> Impairment {
        var result = self
        if let v = other.delay { result.delay = v }
        if let v = other.jitter { result.jitter = v }
        if let v = other.distribution { result.distribution = v }
        if let v = other.loss { result.loss = v }
        if let v = other.lossCorrelation { result.lossCorrelation = v }
        if let v = other.duplicate { result.duplicate = v }
        if let v = other.corrupt { result.corrupt = v }
        if let v = other.reorder { result.reorder = v }
        if let v = other.rate { result.rate = v }
        if let v = other.limit { result.limit = v }
        return result
    }

    /// Each parameter set, as the topology file and `nslab link … set` write it: ("delay", "20ms").
    public var settings: [(key: String, value: String)] {
        var out: [(String, String)] = []
        if let delay { out.append(("delay", ImpairmentUnits.format(duration: delay))) }
        if let jitter { out.append(("jitter", ImpairmentUnits.format(duration: jitter))) }
        if let distribution { out.append(("distribution", distribution.rawValue)) }
        if let loss { out.append(("loss", ImpairmentUnits.format(percent: loss))) }
        if let lossCorrelation { out.append(("loss-correlation", ImpairmentUnits.format(percent: lossCorrelation))) }
        if let duplicate { out.append(("duplicate", ImpairmentUnits.format(percent: duplicate))) }
        if let corrupt { out.append(("corrupt", ImpairmentUnits.format(percent: corrupt))) }
        if let reorder { out.append(("reorder", ImpairmentUnits.format(percent: reorder))) }
        if let rate { out.append(("rate", ImpairmentUnits.format(rate: rate))) }
        if let limit { out.append(("limit", String(limit))) }
        return out
    }

    /// "delay=20ms jitter=5ms loss=1% rate=10mbit", as `nslab link … set` takes it back.
    public var text: String { settings.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
}

/// `flap:` on a link: a failure schedule run in the background once the lab is up, as
/// `nslab link LAB NODE:IFACE flap` runs it. Seconds.
public struct FlapSchedule: Sendable, Equatable {
    public var downAfter: Double
    public var downFor: Double
    public var upFor: Double?
    public var times: Int

    public init(downAfter: Double, downFor: Double, upFor: Double? = nil, times: Int = 1) {
        self.downAfter = downAfter; self.downFor = downFor; self.upFor = upFor; self.times = times
    }

    public static let keys = ["down-after", "down-for", "up-for", "times"]

    /// The schedule's settings as a file writes them: times in s or ms, `times` when not 1.
    public var fields: [(key: String, value: String)] {
        func seconds(_ value: Double) -> String {
            value == value.rounded() ? "\(Int(value))s" : "\(Int((value * 1000).rounded()))ms"
        }
        var fields = [("down-after", seconds(downAfter)), ("down-for", seconds(downFor))]
        if let upFor { fields.append(("up-for", seconds(upFor))) }
        if times != 1 { fields.append(("times", String(times))) }
        return fields
    }

    /// "down-after 2s down-for 500ms times 3".
    public var text: String { fields.map { "\($0.key) \($0.value)" }.joined(separator: " ") }

    /// "2", "2s", "500ms": seconds when no unit is given.
    public static func seconds(_ text: String) -> Double? {
        if let value = Double(text), value >= 0, value.isFinite { return value }
        return ImpairmentUnits.duration(text.lowercased()).map { Double($0) / 1e9 }
    }
}

/// tc's units: times in s/ms/us/ns (no unit: microseconds, as tc), rates in bit/kbit/mbit/gbit
/// (decimal) or bps/kbps/mbps (bytes), percentages with an optional %.
public enum ImpairmentUnits {
    public static func duration(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("ns", 1), ("usec", 1e3), ("us", 1e3), ("msec", 1e6), ("ms", 1e6),
                                         ("sec", 1e9), ("s", 1e9)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return scaled(String(text.dropLast(suffix.count)), scale)
        }
        return scaled(text, 1e3)
    }

    public static func percent(_ text: String) -> Double? {
        let number = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let value = Double(number), value >= 0, value <= 100 else { return nil }
        return value
    }

    public static func rate(_ text: String) -> UInt64? {
        let units: [(String, Double)] = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1),
                                         ("gbps", 8e9), ("mbps", 8e6), ("kbps", 8e3), ("bps", 8)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return scaled(String(text.dropLast(suffix.count)), scale).flatMap { $0 > 0 ? $0 : nil }
        }
        return nil
    }

    private static func scaled(_ number: String, _ scale: Double) -> UInt64? {
        guard !number.isEmpty, let value = Double(number), value >= 0, value.isFinite, value * scale < 1.8e19 else { return nil }
        return UInt64((value * scale).rounded())
    }

    public static func format(duration ns: UInt64) -> String {
        if ns % 1_000_000_000 == 0 && ns > 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1000 == 0 { return "\(ns / 1000)us" }
        return "\(ns)ns"
    }

    public static func format(percent: Double) -> String {
        let rounded = (percent * 10_000).rounded() / 10_000
        return rounded == rounded.rounded() ? "\(Int(rounded))%" : "\(rounded)%"
    }

    public static func format(rate bits: UInt64) -> String {
        if bits % 1_000_000_000 == 0 { return "\(bits / 1_000_000_000)gbit" }
        if bits % 1_000_000 == 0 { return "\(bits / 1_000_000)mbit" }
        if bits % 1000 == 0 { return "\(bits / 1000)kbit" }
        return "\(bits)bit"
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
