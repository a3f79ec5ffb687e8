import NetAddress

/// One `exec:` line of a containerlab node, read for what it does. The lines that set up what a
/// topology can say — an address, a route, a link up, an MTU, forwarding — are read exactly
/// and become part of the lab; every other line runs in the node as it would in containerlab
/// (split into words as containerlab splits it, no shell).
enum ExecLine {
    case address(interface: Located<String>, prefix: Located<IPPrefix>)
    case route(RouteSyntax.Raw)
    case linkUp(interface: Located<String>)
    case mtu(interface: Located<String>, value: UInt32)
    case forwarding(Bool)
    case command(argv: [String])

    /// A word of the line and the offset (in Unicode scalars) where it starts.
    typealias Word = (text: String, offset: Int)

    /// nil with the offset of an opening quote that is never closed.
    static func read(_ line: String, at: @escaping (Int) -> SourceLocation) -> Result<ExecLine, QuoteError> {
        // containerlab expands $VAR from its own environment when it loads the file; `$$` is
        // how a file writes a `$` that the command itself sees.
        let text = line.replacingOccurrences(of: "$$", with: "$")
        let words: [Word]
        switch ShellWords.split(text) {
        case .success(let split): words = split
        case .failure(let error): return .failure(error)
        }
        let argv = words.map(\.text)
        // Offsets are meaningful only when nothing was replaced.
        let place: (Int) -> SourceLocation = text == line ? at : { _ in at(0) }
        return .success(typed(words, at: place) ?? .command(argv: argv))
    }

    private static func typed(_ words: [Word], at: (Int) -> SourceLocation) -> ExecLine? {
        guard let first = words.first?.text else { return nil }
        if first == "sysctl" { return sysctl(Array(words.dropFirst())) }
        guard first == "ip", words.count >= 3 else { return nil }
        var rest = Array(words.dropFirst())
        var family: IPAddress.Family?
        while let option = rest.first?.text, option.hasPrefix("-") {
            switch option {
            case "-4": family = .ipv4
            case "-6": family = .ipv6
            default: return nil
            }
            rest.removeFirst()
        }
        guard rest.count >= 2 else { return nil }
        let object = rest[0].text, verb = rest[1].text
        let arguments = Array(rest.dropFirst(2))
        func located(_ word: Word) -> Located<String> { Located(value: word.text, location: at(word.offset)) }
        switch (object, verb) {
        case ("a", "add"), ("addr", "add"), ("address", "add"):
            // PREFIX dev IFACE, or dev IFACE PREFIX; nothing else.
            guard arguments.count == 3 else { return nil }
            let (prefixWord, device): (Word, Word)
            if arguments[1].text == "dev" { (prefixWord, device) = (arguments[0], arguments[2]) }
            else if arguments[0].text == "dev" { (prefixWord, device) = (arguments[2], arguments[1]) }
            else { return nil }
            guard case .success(let prefix) = AddressSyntax.prefix(prefixWord.text, requireLength: false),
                  family == nil || family == prefix.family else { return nil }
            return .address(interface: located(device), prefix: Located(value: prefix, location: at(prefixWord.offset)))
        case ("r", "add"), ("ro", "add"), ("route", "add"):
            return route(arguments, family: family, at: at)
        case ("l", "set"), ("link", "set"):
            var words = arguments
            if words.first?.text == "dev" { words.removeFirst() }
            guard let device = words.first else { return nil }
            let settings = words.dropFirst().map(\.text)
            if settings == ["up"] { return .linkUp(interface: located(device)) }
            if settings.count == 2, settings[0] == "mtu", let value = UInt32(settings[1]), (68...65535).contains(value) {
                return .mtu(interface: located(device), value: value)
            }
            return nil
        default:
            return nil
        }
    }

    /// DEST [via GATEWAY] [dev IFACE] [metric N], each at most once; anything else is not read.
    private static func route(_ words: [Word], family: IPAddress.Family?, at: (Int) -> SourceLocation) -> ExecLine? {
        guard let destination = words.first else { return nil }
        var raw = RouteSyntax.Raw(location: at(destination.offset))
        raw.to = Located(value: destination.text, location: at(destination.offset))
        var index = 1
        while index < words.count {
            guard index + 1 < words.count else { return nil }
            let value = Located(value: words[index + 1].text, location: at(words[index + 1].offset))
            switch words[index].text {
            case "via" where raw.via == nil: raw.via = value
            case "dev" where raw.dev == nil: raw.dev = value
            case "metric" where raw.metric == nil, "preference" where raw.metric == nil, "priority" where raw.metric == nil:
                raw.metric = value
            default: return nil
            }
            index += 2
        }
        let built = RouteSyntax.build(raw)
        guard let route = built.route, built.failures.isEmpty else { return nil }
        // `ip -6 route add default via …` needs its gateway to say IPv6; a family option that
        // contradicts the route is left to `ip` to refuse.
        if let family, route.destination.family != family { return nil }
        return .route(raw)
    }

    private static func sysctl(_ words: [Word]) -> ExecLine? {
        var settings = words.map(\.text)
        if settings.first == "-w" { settings.removeFirst() }
        guard settings.count == 1 else { return nil }
        let parts = settings[0].split(separator: "=", maxSplits: 1).map(String.init)
        let keys = ["net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.forwarding"]
        guard parts.count == 2, keys.contains(parts[0]), parts[1] == "1" || parts[1] == "0" else { return nil }
        return .forwarding(parts[1] == "1")
    }
}

/// An opening quote never closed, at `offset`.
struct QuoteError: Error {
    var offset: Int
}

/// Words as a POSIX shell splits them (containerlab splits exec lines so, then runs the words
/// without a shell): blanks separate words, single quotes keep everything, double quotes keep
/// everything but backslash escapes of `"` `\` `$` and the backtick, a backslash outside
/// quotes keeps the next character.
enum ShellWords {
    static func split(_ text: String) -> Result<[ExecLine.Word], QuoteError> {
        var words: [ExecLine.Word] = []
        var current = String.UnicodeScalarView()
        var start: Int?
        var quote: Unicode.Scalar?
        var quoteStart = 0
        var escaped = false
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            if escaped {
                // Inside double quotes a backslash escapes only these; before anything else it stays.
                if quote == "\"" && !["\"", "\\", "$", "`"].contains(scalar) { current.append("\\") }
                current.append(scalar)
                escaped = false
                continue
            }
            if let open = quote {
                if scalar == open {
                    quote = nil
                } else if open == "\"" && scalar == "\\" {
                    escaped = true
                } else {
                    current.append(scalar)
                }
                continue
            }
            switch scalar {
            case " ", "\t", "\n":
                if let begun = start { words.append((String(current), begun)) }
                current = .init()
                start = nil
            case "'", "\"":
                if start == nil { start = offset }
                quote = scalar
                quoteStart = offset
            case "\\":
                if start == nil { start = offset }
                escaped = true
            default:
                if start == nil { start = offset }
                current.append(scalar)
            }
        }
        if quote != nil { return .failure(QuoteError(offset: quoteStart)) }
        if let begun = start { words.append((String(current), begun)) }
        return .success(words)
    }
}
