import ArgumentParser
import Foundation
import Lab
import Server
import Synchronization

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A web page with the live topology of every deployed lab.",
        discussion: """
        Nodes and links of every lab, redrawn as links go down or up and impairments change \
        (netlink events pushed to the page), interface counters, a node's addresses, routes and \
        neighbours on click, and `verify` on demand. Everything the page needs is inside nslab. \
        A lab spread over hosts (deployed from here) is shown whole: each host's part read and \
        followed by the host's own nslab over ssh, its nodes labelled with their host.
        Listens on 127.0.0.1 only, unless --host names another address and --allow-remote is given. \
        Read-only unless --allow-actions: then links can be taken down and up from the page with \
        the token printed on stderr (or given with --token), sent as Authorization: Bearer TOKEN. \
        \(ExitStatus.standard)
        """)

    @Option(help: "The address to listen on (loopback unless --allow-remote).")
    var host = "127.0.0.1"

    @Option(help: "The TCP port (0: any free port, printed on stderr).")
    var port = 8080

    @Flag(help: "Allow --host to be an address other machines can reach.")
    var allowRemote = false

    @Flag(help: "Allow taking links down and up from the page (with the token).")
    var allowActions = false

    @Option(help: "The token actions need (default: a random one, printed on stderr). Needs --allow-actions.")
    var token: String?

    func validate() throws {
        if !ServeSecurity.isLoopback(host) && !allowRemote {
            throw ValidationError("\(host) is not a loopback address: the page would be reachable from other machines; add --allow-remote if that is what you want")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        if token != nil && !allowActions { throw ValidationError("--token is only used with --allow-actions") }
        if let token, token.count < 16 || token.contains(where: \.isWhitespace) {
            throw ValidationError("--token must be at least 16 characters, without spaces")
        }
    }

    func run() throws {
        // Without root every lab's namespaces are closed to it: say so, not serve an empty page.
        try reportingErrors { try Privileges.check(for: "watch the labs' namespaces") }
        let security = ServeSecurity(allowActions: allowActions, token: allowActions ? (token ?? ServeSecurity.randomToken()) : nil)
        // Spread labs deployed from here are shown whole: their hosts are read over ssh.
        let options = ServeOptions(host: host, port: port, security: security, parts: SpreadParts())
        let printedToken = token == nil ? security.token : nil
        try runBlocking {
            try await LabServer.run(options) { host, port in
                let shown = host.contains(":") ? "[\(host)]" : host
                note("nslab: serving on http://\(shown):\(port)/ (\(allowActions ? "actions allowed with the token" : "read-only")); Ctrl-C stops")
                if let printedToken {
                    note("nslab: token for actions: \(printedToken)")
                    note("nslab: open http://\(shown):\(port)/#token=\(printedToken) to use it from the page")
                }
            }
        }
    }
}

/// Runs async work from a synchronous command and waits for it on this thread. The root command
/// stays synchronous (its custom main maps usage errors to exit 2); only `serve` needs this.
func runBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
    let outcome = Mutex<(any Error)??>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            try await body()
            outcome.withLock { $0 = .some(nil) }
        } catch {
            outcome.withLock { $0 = .some(error) }
        }
        done.signal()
    }
    done.wait()
    if let error = outcome.withLock({ $0 }) ?? nil {
        note("nslab: \(error)")
        throw ExitCode(1)
    }
}
