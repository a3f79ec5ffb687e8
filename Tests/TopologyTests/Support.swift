import Testing
@testable import Topology

/// Every diagnostic for `yaml`, or [] when it decodes.
func diagnostics(_ yaml: String, file: String = "lab.yaml") -> [Diagnostic] {
    do {
        _ = try Topology.parse(yaml: yaml, file: file)
        return []
    } catch {
        return error.diagnostics
    }
}

/// Asserts that `yaml` fails with exactly one diagnostic, at `location` ("lab.yaml:LINE:COL"),
/// whose message contains `message` (and whose hint contains `hint`, if given).
@discardableResult
func expectOnly(_ yaml: String, _ location: String, _ message: String, hint: String? = nil,
                sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Diagnostic? {
    let found = diagnostics(yaml)
    #expect(found.count == 1, "expected one diagnostic, got:\n\(found.map(\.description).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
    guard let first = found.first else { return nil }
    #expect(first.location.description == location, "\(first)", sourceLocation: sourceLocation)
    #expect(first.message.contains(message), "\(first)", sourceLocation: sourceLocation)
    if let hint {
        #expect(first.hint?.contains(hint) == true, "\(first)", sourceLocation: sourceLocation)
    }
    return first
}

/// Asserts that one of the diagnostics for `yaml` is at `location` and contains `message`.
@discardableResult
func expectSome(_ yaml: String, _ location: String, _ message: String, hint: String? = nil,
                sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Diagnostic? {
    let found = diagnostics(yaml)
    let match = found.first { $0.location.description == location && $0.message.contains(message) }
    #expect(match != nil, "no '\(message)' at \(location) in:\n\(found.map(\.description).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
    if let hint, let match {
        #expect(match.hint?.contains(hint) == true, "\(match)", sourceLocation: sourceLocation)
    }
    return match
}

/// Decodes `yaml`, recording an issue with every diagnostic if it fails.
func decode(_ yaml: String, file: String = "lab.yaml",
            sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Topology? {
    do {
        return try Topology.parse(yaml: yaml, file: file)
    } catch {
        Issue.record("unexpected diagnostics:\n\(error)", sourceLocation: sourceLocation)
        return nil
    }
}
