/// What long work tells whoever shows its progress: a new stage, or how far it is within one.
/// Written as a string where it is only a stage (`progress("adding routes")`).
public enum ProgressStep: Sendable, Equatable, ExpressibleByStringInterpolation {
    case stage(String)
    /// `done` of `total` things of `stage` ("creating 1000 namespaces", 500, 1000).
    case count(stage: String, done: Int, total: Int)

    public init(stringLiteral value: String) { self = .stage(value) }

    public var stageName: String {
        switch self {
        case .stage(let name), .count(let name, _, _): return name
        }
    }
}
