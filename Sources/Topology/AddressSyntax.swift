import NetAddress

/// Parsing of the values inside a topology (addresses, prefixes, MACs, numbers) with a reason
/// when they are wrong: NetAddress only says yes or no, and "is not valid" alone does not tell
/// a user which of four octets to fix.
enum AddressSyntax {
    static func address(_ text: String) -> Result<IPAddress, Problem> {
        if let address = IPAddress(text) { return .success(address) }
        return .failure(Problem(addressReason(text)))
    }

    private static func addressReason(_ text: String) -> String {
        let shown = Names.quoted(text)
        if text.isEmpty { return "the address is empty" }
        if text.contains(":") {
            let groups = text.split(separator: ":", omittingEmptySubsequences: true)
            if let bad = groups.dropLast().first(where: { !isHexGroup($0) })
                ?? groups.last.flatMap({ isHexGroup($0) || $0.contains(".") ? nil : $0 }) {
                return "\(shown) is not a valid IPv6 address: '\(bad)' is not 1 to 4 hexadecimal digits"
            }
            if text.components(separatedBy: "::").count > 2 {
                return "\(shown) is not a valid IPv6 address: '::' may appear only once"
            }
            return "\(shown) is not a valid IPv6 address"
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 1 { return "\(shown) is not an IP address" }
        if parts.count != 4 {
            return "\(shown) is not a valid IPv4 address: it has \(parts.count) part\(parts.count == 1 ? "" : "s"), not 4"
        }
        for part in parts {
            if part.isEmpty { return "\(shown) is not a valid IPv4 address: it has an empty part" }
            if !part.allSatisfy({ $0.isASCII && $0.isNumber }) {
                return "\(shown) is not a valid IPv4 address: '\(part)' is not a number"
            }
            if part.count > 1, part.first == "0" {
                return "\(shown) is not a valid IPv4 address: '\(part)' has a leading zero, which some tools read as octal"
            }
            if part.count > 3 || (Int(part) ?? 256) > 255 {
                return "\(shown) is not a valid IPv4 address: \(part) is greater than 255"
            }
        }
        return "\(shown) is not a valid IPv4 address"
    }

    private static func isHexGroup(_ group: Substring) -> Bool {
        (1...4).contains(group.count) && group.allSatisfy { $0.isASCII && $0.isHexDigit }
    }

    /// "ADDR/LEN", or a bare address when `requireLength` is false (a host prefix, /32 or /128).
    static func prefix(_ text: String, requireLength: Bool) -> Result<IPPrefix, Problem> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let address: IPAddress
        switch self.address(String(parts[0])) {
        case .success(let parsed): address = parsed
        case .failure(let problem): return .failure(problem)
        }
        guard parts.count == 2 else {
            if requireLength {
                let example = address.family == .ipv4 ? "\(address)/24" : "\(address)/64"
                return .failure(Problem("address \(address) has no prefix length",
                                        hint: "write \(example) (an interface address needs its subnet's length)"))
            }
            // A bare address means a host prefix, as `ip route` reads it.
            guard let host = IPPrefix(address: address, length: address.family.bitCount) else {
                return .failure(Problem("\(Names.quoted(text)) is not a valid prefix"))
            }
            return .success(host)
        }
        let lengthText = parts[1]
        let limit = address.family.bitCount
        guard !lengthText.isEmpty, lengthText.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(Problem("prefix length '\(lengthText)' in \(Names.quoted(text)) is not a number",
                                    hint: "write the length as a number from 0 to \(limit), e.g. \(address)/\(address.family == .ipv4 ? 24 : 64)"))
        }
        guard lengthText.count <= 3, let length = Int(lengthText), let prefix = IPPrefix(address: address, length: length) else {
            return .failure(Problem("prefix length \(lengthText) is out of range for \(address.family) (0 to \(limit))",
                                    hint: "write a length from 0 to \(limit)"))
        }
        return .success(prefix)
    }

    /// "02:00:00:00:00:01": six pairs of hex digits, a unicast address that is not all zero,
    /// as the kernel refuses the others for an Ethernet device.
    static func mac(_ text: String) -> Result<[UInt8], Problem> {
        let shown = Names.quoted(text)
        let pairs = text.split(separator: ":", omittingEmptySubsequences: false)
        guard pairs.count == 6, pairs.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0.isASCII && $0.isHexDigit } }) else {
            return .failure(Problem("MAC address \(shown) is not six pairs of hex digits separated by ':'",
                                    hint: "write it like 02:00:00:00:00:01"))
        }
        let bytes = pairs.compactMap { UInt8($0, radix: 16) }
        guard bytes.count == 6 else { return .failure(Problem("MAC address \(shown) is not valid")) }
        if bytes.allSatisfy({ $0 == 0 }) {
            return .failure(Problem("MAC address \(shown) is all zero", hint: "use a locally administered address such as 02:00:00:00:00:01"))
        }
        if bytes[0] & 1 == 1 {
            return .failure(Problem("MAC address \(shown) is a multicast address (the first octet is odd)",
                                    hint: "an interface needs a unicast address; locally administered ones start with 02, 06, 0a or 0e"))
        }
        return .success(bytes)
    }

    /// A decimal number within `range`. Underscores, signs, hex and octal are refused: they are
    /// YAML integer spellings that would be surprising in an MTU or a metric.
    static func integer(_ text: String, in range: ClosedRange<UInt64>, what: String) -> Result<UInt64, Problem> {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(Problem("\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), found \(Names.quoted(text))"))
        }
        guard text.count <= 20, let value = UInt64(text), range.contains(value) else {
            return .failure(Problem("\(what) \(text) is out of range (\(range.lowerBound) to \(range.upperBound))"))
        }
        return .success(value)
    }
}
