import NetAddress

/// Routes as `ip route` writes them, "DEST [via GATEWAY] [dev INTERFACE] [metric N]", or as a
/// mapping with the same four parts. Both forms become a `Raw` (the words, each with where it
/// was written) and then one `DraftRoute`, so their checks and messages are the same.
enum RouteSyntax {
    struct Failure: Error {
        var problem: Problem
        var location: SourceLocation
    }

    struct Raw {
        var to: Located<String>?
        var via: Located<String>?
        var dev: Located<String>?
        var metric: Located<String>?
        var location: SourceLocation
    }

    private static let usage = "a route is DEST [via GATEWAY] [dev INTERFACE] [metric N], e.g. 10.0.0.0/24 via 172.16.0.2"

    /// Words split at whitespace, with their offsets in Unicode scalars.
    static func words(_ text: String) -> [(text: String, offset: Int)] {
        var out: [(String, Int)] = []
        var current = String.UnicodeScalarView()
        var start = 0
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            // ASCII first (tab to carriage return, space: Unicode's White_Space below 0x80): the
            // property lookup was 8 % of reading a file with a million routes.
            if scalar.isASCII ? (scalar.value == 0x20 || (0x09...0x0d).contains(scalar.value)) : scalar.properties.isWhitespace {
                if !current.isEmpty { out.append((String(current), start)); current = .init() }
            } else {
                if current.isEmpty { start = offset }
                current.append(scalar)
            }
        }
        if !current.isEmpty { out.append((String(current), start)) }
        return out
    }

    /// The string form. `at` turns an offset into the value into a location in the file.
    /// Failures come with whatever could still be read, so the value checks in `build` run too.
    static func parse(_ text: String, location: SourceLocation,
                      at: (Int) -> SourceLocation) -> (raw: Raw, failures: [Failure]) {
        var raw = Raw(location: location)
        var failures: [Failure] = []
        let words = words(text)
        guard let first = words.first else {
            failures.append(Failure(problem: Problem("the route is empty", hint: usage), location: location))
            return (raw, failures)
        }
        if TopologyKeys.routeWords.contains(first.text) {
            failures.append(Failure(problem: Problem("the route has no destination before '\(first.text)'",
                                                     hint: "start with 'default' or a prefix such as 10.0.0.0/24"),
                                    location: at(first.offset)))
        } else {
            raw.to = Located(value: first.text, location: at(first.offset))
        }
        var seen: [String: SourceLocation] = [:]
        var index = raw.to == nil ? 0 : 1
        while index < words.count {
            let word = words[index]
            let here = at(word.offset)
            guard TopologyKeys.routeWords.contains(word.text) else {
                let hint = Suggest.didYouMean(word.text, among: TopologyKeys.routeWords)
                    ?? "nslab routes take only 'via', 'dev' and 'metric' after the destination"
                failures.append(Failure(problem: Problem("unknown word \(Names.quoted(word.text)) in the route", hint: hint),
                                        location: here))
                // A misspelt keyword is followed by its value ("gw 192.168.0.254"); reporting that
                // value as a second unknown word would only repeat the same mistake.
                let next = index + 1
                index += next < words.count && !TopologyKeys.routeWords.contains(words[next].text) ? 2 : 1
                continue
            }
            let valueIndex = index + 1
            let value = valueIndex < words.count && !TopologyKeys.routeWords.contains(words[valueIndex].text)
                ? words[valueIndex] : nil
            if let first = seen[word.text] {
                failures.append(Failure(problem: Problem("'\(word.text)' appears twice in the route",
                                                         hint: "the first is at column \(first.column); keep one"),
                                        location: here))
            } else {
                seen[word.text] = here
                if let value {
                    let located = Located(value: value.text, location: at(value.offset))
                    switch word.text {
                    case "via": raw.via = located
                    case "dev": raw.dev = located
                    default: raw.metric = located
                    }
                } else {
                    let what = ["via": "a gateway address", "dev": "an interface name", "metric": "a number"][word.text] ?? "a value"
                    failures.append(Failure(problem: Problem("'\(word.text)' needs \(what) after it", hint: usage),
                                            location: here))
                }
            }
            index += value == nil ? 1 : 2
        }
        return (raw, failures)
    }

    /// The checks that need only the route itself. `complete` is false when the words could
    /// not all be read, to avoid blaming a missing 'via' that was really misspelt.
    static func build(_ raw: Raw, complete: Bool = true) -> (route: DraftRoute?, failures: [Failure]) {
        var failures: [Failure] = []
        func fail(_ problem: Problem, _ location: SourceLocation) {
            failures.append(Failure(problem: problem, location: location))
        }

        var gateway: Located<IPAddress>?
        if let via = raw.via {
            if via.value.contains("/") {
                let bare = String(via.value.prefix { $0 != "/" })
                fail(Problem("gateway \(Names.quoted(via.value)) must be an address without a prefix length",
                             hint: "write via \(bare)"), via.location)
            } else {
                switch AddressSyntax.address(via.value) {
                case .success(let address):
                    gateway = Located(value: address, location: via.location)
                    if address.isUnspecified || address.isMulticast {
                        fail(Problem("gateway \(address) is not a usable next hop",
                                     hint: "write the address of a neighbouring router on a shared subnet"), via.location)
                        gateway = nil
                    }
                case .failure(let problem):
                    fail(Problem("invalid gateway: \(problem.message)", hint: problem.hint), via.location)
                }
            }
        }

        var destination: IPPrefix?
        var isDefault = false
        if let to = raw.to {
            if to.value == "default" {
                isDefault = true
                // The gateway says which family "default" means, as it does for `ip route`.
                let family = gateway?.value.family ?? .ipv4
                destination = family == .ipv4 ? IPPrefix(address: .v4(0), length: 0) : IPPrefix(address: .v6(0, 0), length: 0)
            } else {
                switch AddressSyntax.prefix(to.value, requireLength: false) {
                case .success(let prefix):
                    destination = prefix
                    if prefix.hasHostBits {
                        fail(Problem("destination \(prefix) has host bits set",
                                     hint: "did you mean \(prefix.network)?"), to.location)
                    }
                case .failure(let problem):
                    let hint = problem.hint ?? "the destination is 'default', a prefix such as 10.0.0.0/24, or an address"
                    fail(Problem("invalid destination: \(problem.message)", hint: hint), to.location)
                }
            }
        }

        if let destination, let gateway, !isDefault, gateway.value.family != destination.family {
            fail(Problem("gateway \(gateway.value) is \(gateway.value.family) but destination \(destination) is \(destination.family)",
                         hint: "a route's gateway must be of the same family as its destination"), gateway.location)
        }

        var metric: UInt32?
        if let text = raw.metric {
            switch AddressSyntax.integer(text.value, in: 0...UInt64(UInt32.max), what: "metric") {
            case .success(let value): metric = UInt32(value)
            case .failure(let problem): fail(problem, text.location)
            }
        }

        if complete, raw.via == nil, raw.dev == nil, let destination {
            let target = isDefault ? "default" : destination.description
            fail(Problem("the route to \(target) has neither 'via GATEWAY' nor 'dev INTERFACE'",
                         hint: "add 'via' and the address of the next router, e.g. \(target) via 192.168.0.254"),
                 raw.location)
        }

        guard failures.isEmpty, complete, let destination else { return (nil, failures) }
        let device = raw.dev
        return (DraftRoute(destination: destination, isDefault: isDefault, gateway: gateway, device: device,
                           metric: metric, location: raw.location), failures)
    }
}
