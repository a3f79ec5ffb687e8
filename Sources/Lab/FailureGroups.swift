import Topology

/// Failed pairs that break at the same place for the same reason: "998 pairs: hub:
/// forwarding-off". A lab with one broken router fails hundreds of thousands of pairs at once;
/// one line per cause says what to fix, where a list of pairs buries it.
public struct FailureGroup: Codable, Sendable, Equatable {
    /// The node where the first break is; nil when the model finds none, or for paths longer
    /// than the TTL (where each runs out is no place to fix).
    public var node: String?
    /// A PathCause ("forwarding-off", "no-route", …), or "not-in-model" when the routing model
    /// says the pair works but the probe failed.
    public var cause: String
    /// "forward" or "reply": which direction of the echo breaks (nil: not in the model).
    public var direction: String?
    public var pairs: Int
    /// The first failing pair's explanation, as an example of the group.
    public var example: String

    public static let notInModel = "not-in-model"

    /// "998 pairs: hub: forwarding-off", "2 pairs: router02: no-route (reply direction)".
    public var summary: String {
        let count = pairs == 1 ? "1 pair" : "\(pairs) pairs"
        let reply = direction == PathExplanation.Direction.reply.rawValue ? " (reply direction)" : ""
        if cause == PathCause.ttlExceeded.rawValue {
            return "\(count): \(cause)\(reply): paths longer than the TTL they were sent with"
        }
        guard let node else {
            return "\(count): \(cause): the routing model finds no break; something it does not read is in the way "
                + "(a firewall, rp_filter, a neighbour entry the host-wide table had no room for)"
        }
        return "\(count): \(node): \(cause)\(reply)"
    }
}

/// Sorts failures into groups as they are explained.
struct FailureGrouping {
    private struct Key: Hashable {
        var node: String?
        var cause: String
        var direction: String?
    }
    private var positions: [Key: Int] = [:]
    private var groups: [FailureGroup] = []

    /// Counts one failed pair; `explanation` is the model's walk of it, `summary` its one line.
    mutating func add(_ explanation: PathExplanation, summary: @autoclosure () -> String) {
        let key = explanation.problem.map {
            Key(node: $0.cause == .ttlExceeded ? nil : $0.node, cause: $0.cause.rawValue, direction: explanation.brokenDirection?.rawValue)
        } ?? Key(node: nil, cause: FailureGroup.notInModel, direction: nil)
        if let position = positions[key] {
            groups[position].pairs += 1
        } else {
            positions[key] = groups.count
            groups.append(FailureGroup(node: key.node, cause: key.cause, direction: key.direction, pairs: 1, example: summary()))
        }
    }

    /// The biggest groups first; groups of the same size in the order their first pair failed.
    var sorted: [FailureGroup] {
        groups.enumerated().sorted { ($0.element.pairs, -$0.offset) > ($1.element.pairs, -$1.offset) }.map(\.element)
    }
}
