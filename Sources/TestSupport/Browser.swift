import CShims
import Foundation
import Glibc

public struct BrowserError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe
/// (`--remote-debugging-pipe`: JSON messages ended by NUL on fds 3 and 4), so tests see a page
/// as a person's browser renders it, with nothing but the browser installed.
///
/// The browser runs in a process group of its own, ended by `close()` (SIGTERM to the group,
/// then SIGKILL), whatever state the test is in.
public final class Browser {
    public let pid: pid_t
    public let log: String
    private let commands: Int32
    private let replies: Int32
    private let profile: String
    private var nextID = 1
    private var received: [UInt8] = []
    private var session: String?
    private var closed = false

    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { access($0, X_OK) == 0 }
    }

    /// Starts the browser with one blank page of `width`×`height` CSS pixels. `through`: a
    /// command that runs the browser elsewhere and keeps its descriptors (a simulated host's
    /// `sim-hosts.sh run HOST`), so that its 127.0.0.1 is that host's.
    public init(width: Int = 1400, height: Int = 1000, through launcher: [String] = []) throws {
        guard let executable = Browser.executable else {
            throw BrowserError("chromium is not installed (scripts/install-deps.sh installs it)")
        }
        profile = "/tmp/nslab-browser-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(profile, 0o700) == 0 else { throw BrowserError("mkdir \(profile) failed") }
        log = "\(profile)/chromium.log"
        var toBrowser: [Int32] = [-1, -1], fromBrowser: [Int32] = [-1, -1]
        guard nslab_pipe_cloexec(&toBrowser) == 0, nslab_pipe_cloexec(&fromBrowser) == 0 else {
            throw BrowserError("pipe2 failed")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        startWithDefaultSignals(&attributes, flags: Int32(POSIX_SPAWN_SETPGROUP))
        let arguments = [
            executable, "--headless", "--no-sandbox",  // the sandbox refuses to run as root
            "--remote-debugging-pipe", "--user-data-dir=\(profile)", "--window-size=\(width),\(height)",
            "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--hide-scrollbars", "--mute-audio", "about:blank",
        ]
        let argv: [UnsafeMutablePointer<CChar>?] = (launcher + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, launcher.first ?? executable, &actions, &attributes, argv, environ)
        Glibc.close(toBrowser[0])
        Glibc.close(fromBrowser[1])
        guard spawned == 0 else {
            Glibc.close(toBrowser[1]); Glibc.close(fromBrowser[0])
            throw BrowserError("posix_spawn \(executable): \(String(cString: strerror(spawned)))")
        }
        pid = child
        commands = toBrowser[1]
        replies = fromBrowser[0]
        do {
            let target = try send("Target.createTarget", ["url": "about:blank"], inSession: false, timeout: 30)
            guard let targetID = target["targetId"] as? String else { throw BrowserError("no target: \(target)") }
            let attached = try send("Target.attachToTarget", ["targetId": targetID, "flatten": true], inSession: false)
            session = attached["sessionId"] as? String
            _ = try send("Page.enable")
            _ = try send("Runtime.enable")
            _ = try send("Emulation.setDeviceMetricsOverride",
                         ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": false])
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Ends the browser and every process it started, and removes its profile.
    public func close() {
        if closed { return }
        closed = true
        _ = try? send("Browser.close", inSession: false, timeout: 2)
        Glibc.close(commands)
        Glibc.close(replies)
        var status: Int32 = 0
        for _ in 0..<40 {
            if waitpid(pid, &status, WNOHANG) == pid { break }
            usleep(50_000)
        }
        kill(-pid, SIGKILL)  // the group: renderer, GPU and zygote processes too
        _ = waitpid(pid, &status, WNOHANG)
        _ = try? FileManager.default.removeItem(atPath: profile)
    }

    /// Sends a DevTools command and waits for its answer; events in between are dropped.
    @discardableResult
    public func send(_ method: String, _ parameters: [String: Any] = [:], inSession: Bool = true,
                     timeout: Double = 15) throws -> [String: Any] {
        let id = nextID
        nextID += 1
        var message: [String: Any] = ["id": id, "method": method, "params": parameters]
        if inSession, let session { message["sessionId"] = session }
        var bytes = Array(try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(commands, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw BrowserError("the browser closed its pipe (see \(log))") }
            offset += written
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let reply = try nextMessage(until: deadline, method: method)
            guard reply["id"] as? Int == id else { continue }
            if let error = reply["error"] as? [String: Any] { throw BrowserError("\(method): \(error)") }
            return reply["result"] as? [String: Any] ?? [:]
        }
    }

    private func nextMessage(until deadline: Date, method: String) throws -> [String: Any] {
        while true {
            if let end = received.firstIndex(of: 0) {
                let data = Data(received[..<end])
                received.removeSubrange(...end)
                if let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] { return object }
                continue
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw BrowserError("\(method): no answer from the browser in time") }
            var descriptor = pollfd(fd: replies, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(left * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = read(replies, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw BrowserError("the browser exited (see \(log))") }
            received += chunk[0..<count]
        }
    }

    /// Opens `url` and waits until `readyWhen` (a JavaScript expression) is true.
    public func open(_ url: String, readyWhen: String = "document.readyState === 'complete'", timeout: Double = 15) throws {
        _ = try send("Page.navigate", ["url": url])
        guard try wait(for: readyWhen, timeout: timeout) else {
            throw BrowserError("\(url) was not ready in \(timeout) s (\(readyWhen))")
        }
    }

    /// The value of a JavaScript expression (promises awaited), as JSON turns it into Swift.
    public func evaluate(_ expression: String) throws -> Any? {
        let result = try send("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = result["exceptionDetails"] as? [String: Any] {
            throw BrowserError("JavaScript failed: \(exception["text"] ?? "") \((exception["exception"] as? [String: Any])?["description"] ?? "")")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Evaluates `expression` every `interval` seconds until it is true; false if it never was.
    public func wait(for expression: String, timeout: Double, interval: Double = 0.01) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if try evaluate("Boolean(\(expression))") as? Bool == true { return true }
            usleep(UInt32(interval * 1_000_000))
        } while Date() < deadline
        return false
    }

    /// Clicks the element `selector` finds, as a person would: scrolled into view, a mouse press and
    /// release at its centre.
    public func click(_ selector: String) throws {
        let box = try evaluate("""
            (() => { const e = document.querySelector(\(Browser.quoted(selector)));
                     e.scrollIntoView({ block: 'center', inline: 'center' });
                     const r = e.getBoundingClientRect();
                     return [r.x + r.width / 2, r.y + r.height / 2]; })()
            """) as? [Double] ?? []
        guard box.count == 2 else { throw BrowserError("nothing to click at \(selector)") }
        for type in ["mousePressed", "mouseReleased"] {
            try send("Input.dispatchMouseEvent", ["type": type, "x": box[0], "y": box[1], "button": "left", "clickCount": 1])
        }
    }

    /// A PNG of what the page shows now (the whole page, not only the window), written to `path`.
    public func screenshot(to path: String) throws {
        let metrics = try send("Page.getLayoutMetrics")
        let size = metrics["cssContentSize"] as? [String: Any] ?? [:]
        let width = size["width"] as? Double ?? 1400, height = size["height"] as? Double ?? 1000
        let result = try send("Page.captureScreenshot", [
            "format": "png", "captureBeyondViewport": true,
            "clip": ["x": 0, "y": 0, "width": width, "height": height, "scale": 1],
        ])
        guard let text = result["data"] as? String, let data = Data(base64Encoded: text) else {
            throw BrowserError("no screenshot data")
        }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// A JavaScript string literal.
    public static func quoted(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8)
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }
}
