import Foundation
import Hummingbird
import Lab
import Logging
import NIOCore
import ServiceLifecycle

/// How `nslab serve` was started.
public struct ServeOptions: Sendable {
    public var host: String
    public var port: Int
    public var security: ServeSecurity
    /// How the other hosts' parts of spread labs are read, followed and acted on; nil: labs are
    /// shown as this machine has them.
    public var parts: (any RemoteLabParts)?

    public init(host: String, port: Int, security: ServeSecurity, parts: (any RemoteLabParts)? = nil) {
        self.host = host; self.port = port; self.security = security; self.parts = parts
    }
}

/// `nslab serve`: the page, its scripts, and the JSON API it uses.
///
///     GET  /                                   the page (index.html, app.js, style.css: all in the binary)
///     GET  /api/events                         Server-Sent Events: a snapshot, then every change
///     GET  /api/labs                           every deployed lab: nodes, interfaces, links
///     GET  /api/labs/LAB                       one lab
///     GET  /api/labs/LAB/nodes/NODE            a node read from the kernel now: addresses, routes, neighbours
///     POST /api/labs/LAB/verify                `nslab verify LAB`: the reachability matrix
///     POST /api/labs/LAB/links/NODE:IFACE/down (or up)  only with --allow-actions and the token
public enum LabServer {
    /// Serves until SIGINT or SIGTERM. `onRunning` gets the address actually bound (port 0 asks
    /// the kernel for a free port).
    public static func run(_ options: ServeOptions, onRunning: @escaping @Sendable (_ host: String, _ port: Int) -> Void) async throws {
        let watcher = try LabWatcher(actionsAllowed: options.security.allowActions, parts: options.parts)
        await watcher.start()  // the labs deployed now are on the page before it can be opened
        defer { watcher.stop() }
        var logger = Logger(label: "nslab.serve")
        logger.logLevel = .warning
        let app = Application(
            router: router(watcher: watcher, security: options.security, parts: options.parts),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "nslab"),
            onServerRunning: { channel in
                onRunning(options.host, channel.localAddress?.port ?? options.port)
            },
            logger: logger)
        // Services shut down in reverse order: the viewers' streams end first, so the HTTP server
        // is not left waiting for event streams that never finish.
        let group = ServiceGroup(services: [app, ViewerShutdown(watcher: watcher)],
                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// Ends the page's event streams when the server is asked to stop.
    struct ViewerShutdown: Service {
        let watcher: LabWatcher
        func run() async throws {
            try? await gracefulShutdown()
            watcher.disconnectViewers()
        }
    }

    static func router(watcher: LabWatcher, security: ServeSecurity, parts: (any RemoteLabParts)? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: Guard(security: security))

        router.get("/") { _, _ in asset(PackageResources.index_html, type: "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in asset(PackageResources.app_js, type: "text/javascript; charset=utf-8") }
        router.get("/style.css") { _, _ in asset(PackageResources.style_css, type: "text/css; charset=utf-8") }

        router.get("/api/events") { _, _ in
            let stream = watcher.subscribe()
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                for await frame in stream {
                    try await writer.write(ByteBuffer(string: frame))
                }
                try await writer.finish(nil)
            })
        }
        router.get("/api/labs") { _, _ in json(watcher.labs()) }
        router.get("/api/labs/:lab") { _, context in
            let lab = try parameter("lab", context)
            guard let view = watcher.lab(lab) else { return failure(404, "lab \(lab) is not deployed") }
            return json(view)
        }
        router.get("/api/labs/:lab/nodes/:node") { _, context in
            let (lab, node) = (try parameter("lab", context), try parameter("node", context))
            return await answer {
                // A node on another host is read there.
                if let state = try parts?.node(lab: lab, node: node) { return state }
                guard let state = try LabInspector.inspect(lab: lab, only: [node]).nodes.first else {
                    throw LabError.unknownNode(lab: lab, node: node, known: watcher.lab(lab)?.nodes.map(\.name) ?? [])
                }
                return state
            }
        }
        router.post("/api/labs/:lab/verify") { _, context in
            let lab = try parameter("lab", context)
            return await answer {
                // A spread lab: every host probes from its own nodes, in one report.
                if let parts, parts.layout(of: lab) != nil { return try parts.verify(lab: lab) }
                return try Verifier.verify(lab: lab)
            }
        }
        router.post("/api/labs/:lab/links/:end/:action") { request, context in
            let (lab, end, action) = (try parameter("lab", context), try parameter("end", context), try parameter("action", context))
            do {
                try security.checkAction(authorization: request.headers[.authorization])
            } catch let error as ServeSecurity.Refusal {
                var response = failure(error.status, error.message)
                if error.status == 401 { response.headers[.wwwAuthenticate] = "Bearer" }
                return response
            }
            guard action == "down" || action == "up" else { return failure(400, "the action is down or up, not \(action)") }
            return await answer {
                // An end on another host, or a link between hosts: each end on its own host.
                let ends = try parts?.setLinkState(lab: lab, end: end, up: action == "up")
                    ?? LinkControl.setState(lab: lab, target: end, up: action == "up").map(\.id)
                return ActionResult(lab: lab, ends: ends, state: action)
            }
        }
        return router
    }

    struct ActionResult: Codable, Sendable {
        var lab: String
        var ends: [String]
        var state: String
    }

    /// Checks every request's Host header and every POST's Origin; the Content-Security-Policy
    /// keeps the page out of other sites' frames and other sites' scripts out of the page.
    struct Guard: RouterMiddleware {
        typealias Context = BasicRequestContext
        let security: ServeSecurity

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var response: Response
            do {
                try security.checkHost(request.head.authority)
                if request.method != .get && request.method != .head {
                    try security.checkOrigin(request.headers[.origin], host: request.head.authority)
                }
                response = try await next(request, context)
            } catch let refusal as ServeSecurity.Refusal {
                response = failure(refusal.status, refusal.message)
            }
            response.headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
            return response
        }
    }

    static func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get(name) else { throw ServeSecurity.Refusal(status: 400, message: "missing \(name)") }
        return raw.removingPercentEncoding ?? raw
    }

    static func asset(_ bytes: [UInt8], type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json<T: Encodable>(_ value: T, status: Int = 200) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func failure(_ status: Int, _ message: String) -> Response { json(["error": message], status: status) }

    /// Runs blocking lab work (namespace threads, netlink, probes) on a thread of its own, not on
    /// the server's event loops or Swift's cooperative pool, and answers with its JSON or its error.
    static func answer<T: Encodable & Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Response {
        let result: Result<T, any Error> = await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: Result { try body() }) }
        }
        switch result {
        case .success(let value):
            return json(value)
        case .failure(let error as LabError):
            if case .notDeployed = error { return failure(404, "\(error)") }
            if case .unknownNode = error { return failure(404, "\(error)") }
            return failure(error.exitCode == 2 ? 400 : 500, "\(error)")
        case .failure(let error as ProbeError):
            return failure(error.exitCode == 2 ? 400 : 500, "\(error)")
        case .failure(let error):
            return failure(500, "\(error)")
        }
    }
}
