/// What is wrong with one value, before it is pinned to a place in the file.
struct Problem: Error, Equatable {
    var message: String
    var hint: String?

    init(_ message: String, hint: String? = nil) {
        self.message = message; self.hint = hint
    }
}

/// Rules for the names a topology gives to labs, nodes and interfaces. They are stricter than
/// the kernel's because the same strings become file names (/run/netns/NAME, /etc/netns/NAME),
/// host names and shell arguments.
enum Names {
    static let labNameLimit = 64
    static let nodeNameLimit = 63
    /// The longest file name most Linux file systems accept: /run/netns/PREFIX+NODE is one.
    static let namespaceNameLimit = 255
    /// IFNAMSIZ is 16 including the terminating NUL.
    static let interfaceNameLimit = 15

    /// Quoted for a message, with characters that would be invisible or break the line escaped.
    static func quoted(_ text: String) -> String {
        var out = "'"
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\0": out += "\\0"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || scalar.properties.generalCategory == .format {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "'"
    }

    static func describe(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        if let name = scalar.properties.name { return "\(code) \(name)" }
        return code
    }

    static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        isAlphanumeric(scalar) || scalar == "_" || scalar == "." || scalar == "-"
    }

    static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    /// The checks shared by everything that becomes a file or host name, most specific first so
    /// the message names the actual mistake rather than "does not match the pattern".
    private static func commonProblem(_ text: String, what: String, limit: Int, mayBeEmpty: Bool = false,
                                      mustStartAlphanumeric: Bool = true) -> Problem? {
        let allowed = "ASCII letters, digits, '_', '.' and '-'"
        if text.isEmpty {
            return mayBeEmpty ? nil : Problem("\(what) is empty", hint: "use \(allowed)")
        }
        if text.unicodeScalars.contains("\0") {
            return Problem("\(what) \(quoted(text)) contains a NUL character", hint: "use \(allowed)")
        }
        if let odd = text.unicodeScalars.first(where: { !$0.isASCII }) {
            return Problem("\(what) \(quoted(text)) contains the non-ASCII character '\(odd)' (\(describe(odd)))",
                           hint: "names must be plain ASCII; a look-alike letter makes a different name that "
                               + "`ip netns` and shells will not match. Use \(allowed)")
        }
        if text.contains("/") {
            return Problem("\(what) \(quoted(text)) contains '/'",
                           hint: "it becomes a file name under /run/netns; use \(allowed)")
        }
        if text == "." || text == ".." {
            return Problem("\(what) \(quoted(text)) is not usable: it means a directory, not a file",
                           hint: "use \(allowed), starting with a letter or digit")
        }
        if text.unicodeScalars.contains(where: { $0.properties.isWhitespace }) {
            return Problem("\(what) \(quoted(text)) contains whitespace", hint: "use '-' or '_' instead of spaces")
        }
        if let odd = text.unicodeScalars.first(where: { !isNameCharacter($0) }) {
            return Problem("\(what) \(quoted(text)) contains '\(odd)', which is not allowed", hint: "use \(allowed)")
        }
        if mustStartAlphanumeric, let first = text.unicodeScalars.first, !isAlphanumeric(first) {
            return Problem("\(what) \(quoted(text)) must start with a letter or digit")
        }
        if text.utf8.count > limit {
            return Problem("\(what) \(quoted(text)) is \(text.utf8.count) characters long, more than \(limit)",
                           hint: "shorten it to \(limit) characters or fewer")
        }
        return nil
    }

    static func labNameProblem(_ text: String) -> Problem? {
        commonProblem(text, what: "lab name", limit: labNameLimit)
    }

    /// Node names become namespace names and the nodes' host names, hence 63: one DNS label.
    static func nodeNameProblem(_ text: String) -> Problem? {
        commonProblem(text, what: "node name", limit: nodeNameLimit)
    }

    /// A prefix is glued in front of node names, so it may be empty and end in '-'; the node
    /// name after it supplies the leading letter or digit.
    static func prefixProblem(_ text: String) -> Problem? {
        commonProblem(text, what: "prefix", limit: namespaceNameLimit - 1, mayBeEmpty: true,
                      mustStartAlphanumeric: false)
    }

    /// The kernel's dev_valid_name(), plus ASCII only and no "lo" (every namespace already has
    /// one) and no '%' (the kernel expands "%d" in a new link's name into a number).
    static func interfaceNameProblem(_ text: String) -> Problem? {
        let what = "interface name"
        if text.isEmpty { return Problem("\(what) is empty", hint: "write node:interface, e.g. ns01:eth0") }
        if text.unicodeScalars.contains("\0") { return Problem("\(what) \(quoted(text)) contains a NUL character") }
        if let odd = text.unicodeScalars.first(where: { !$0.isASCII }) {
            return Problem("\(what) \(quoted(text)) contains the non-ASCII character '\(odd)' (\(describe(odd)))",
                           hint: "interface names must be plain ASCII")
        }
        if text.contains("/") { return Problem("\(what) \(quoted(text)) contains '/'", hint: "the kernel refuses '/' in interface names") }
        if text.contains(":") {
            return Problem("\(what) \(quoted(text)) contains ':'",
                           hint: "the kernel refuses ':' in interface names; \"node:interface\" splits at the first ':'")
        }
        if text.unicodeScalars.contains(where: { $0.properties.isWhitespace }) {
            return Problem("\(what) \(quoted(text)) contains whitespace", hint: "the kernel refuses whitespace in interface names")
        }
        if text.contains("%") {
            return Problem("\(what) \(quoted(text)) contains '%'",
                           hint: "the kernel treats '%d' in a new interface's name as a number to fill in")
        }
        if text == "." || text == ".." { return Problem("\(what) \(quoted(text)) is not allowed by the kernel") }
        if text == "lo" {
            return Problem("interface name 'lo' is taken: every namespace has its own loopback 'lo'",
                           hint: "choose another name, e.g. eth0")
        }
        if text.utf8.count > interfaceNameLimit {
            return Problem("\(what) \(quoted(text)) is \(text.utf8.count) bytes long, more than the kernel's \(interfaceNameLimit)",
                           hint: "shorten it to \(interfaceNameLimit) characters or fewer")
        }
        return nil
    }
}
