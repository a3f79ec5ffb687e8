import Foundation
import NetAddress

/// Who may see the page and who may change a lab through it.
///
/// - The server listens on loopback unless told otherwise (`--allow-remote`).
/// - Every request must name the server by an IP address or `localhost` in its Host header:
///   a page on another site that gets its own host name resolved to 127.0.0.1 (DNS rebinding)
///   sends that name, and is refused.
/// - Requests that do something (POST) must come from the page itself: a browser sends an Origin
///   header with cross-site requests, and one naming another site is refused.
/// - Actions (link down/up) need the server started with `--allow-actions` and the token it
///   printed, as `Authorization: Bearer TOKEN`.
public struct ServeSecurity: Sendable {
    public var allowActions: Bool
    /// The token actions need; nil when actions are not allowed.
    public var token: String?

    public init(allowActions: Bool, token: String?) {
        self.allowActions = allowActions
        self.token = allowActions ? token : nil
    }

    /// A refusal: the HTTP status and what to tell the client.
    public struct Refusal: Error, Sendable, Equatable {
        public var status: Int
        public var message: String
    }

    /// 32 random bytes in hex.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Whether `host` (as given to --host) is a loopback address or `localhost`.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return IPAddress(bare)?.isLoopback ?? false
    }

    /// The host part of a Host header ("127.0.0.1:8080", "[::1]:8080", "localhost").
    static func hostName(ofHeader header: String) -> String {
        let value = header.trimmingCharacters(in: .whitespaces).lowercased()
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            return String(value[value.index(after: value.startIndex)..<close])
        }
        if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") {
            return String(value[..<colon])
        }
        return value
    }

    /// Refuses a request whose Host header is not an IP address or localhost.
    public func checkHost(_ host: String?) throws(Refusal) {
        guard let host, !host.isEmpty else {
            throw Refusal(status: 400, message: "a Host header is required")
        }
        let name = ServeSecurity.hostName(ofHeader: host)
        guard name == "localhost" || IPAddress(name) != nil else {
            throw Refusal(status: 403, message: "the Host header names \(name); open the page by its address (http://127.0.0.1:PORT/) — other names are refused against DNS rebinding")
        }
    }

    /// Refuses a POST whose Origin (when the browser sends one) is not this server.
    public func checkOrigin(_ origin: String?, host: String?) throws(Refusal) {
        guard let origin else { return }  // curl and other non-browser clients; the token still applies
        guard let host, origin.lowercased() == "http://\(host.lowercased())" else {
            throw Refusal(status: 403, message: "cross-site request refused (Origin \(origin))")
        }
    }

    /// Refuses an action: 403 without --allow-actions, 401 without a token, 403 with a wrong one.
    public func checkAction(authorization: String?) throws(Refusal) {
        guard allowActions, let token else {
            throw Refusal(status: 403, message: "this server is read-only; start it with `nslab serve --allow-actions` to change links from the page")
        }
        guard let authorization, authorization.hasPrefix("Bearer ") else {
            throw Refusal(status: 401, message: "actions need the token `nslab serve --allow-actions` printed, as Authorization: Bearer TOKEN")
        }
        let given = Array(authorization.dropFirst("Bearer ".count).trimmingCharacters(in: .whitespaces).utf8)
        guard ServeSecurity.constantTimeEqual(given, Array(token.utf8)) else {
            throw Refusal(status: 403, message: "wrong token")
        }
    }

    /// Compares without stopping at the first difference, so the time taken says nothing of how
    /// much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
