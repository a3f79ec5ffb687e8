import Foundation
import Synchronization
import Testing
@testable import Lab

/// A running `nslab serve --port 0 …` (the built binary), stopped by its pid.
final class ServeProcess {
    let pid: Int32
    let port: Int
    let log: String
    private static let made = Mutex(0)

    init(_ arguments: String = "") throws {
        let number = ServeProcess.made.withLock { $0 += 1; return $0 }
        log = "/tmp/nslab-serve-\(getpid())-\(number).log"
        let started = sh("\(nslabBinary) serve --port 0 \(arguments) > \(log) 2>&1 & echo $!")
        guard let pid = Int32(started.output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BrowserError("could not start nslab serve: \(started.output)")
        }
        self.pid = pid
        var port: Int?
        for _ in 0..<300 where port == nil {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) {
                port = Int(text[range].dropFirst("http://127.0.0.1:".count).dropLast())
            } else if !ServeProcess.running(pid) {
                break
            } else {
                usleep(100_000)
            }
        }
        guard let port else {
            kill(pid, SIGKILL)
            throw BrowserError("nslab serve did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)/" }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    var isRunning: Bool { ServeProcess.running(pid) }

    /// Running, not a zombie waiting for init (its parent, the shell, is gone) to reap it.
    static func running(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    /// SIGTERM, then SIGKILL if it is still there after 5 s; returns how long it took to go.
    @discardableResult
    func stop() -> Double {
        let started = Date()
        kill(pid, SIGTERM)
        for _ in 0..<250 where isRunning { usleep(20_000) }
        if isRunning { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: log)
        return Date().timeIntervalSince(started)
    }

    /// An HTTP request with curl: the status and the body.
    func request(_ method: String, _ path: String, headers: [String] = []) -> (status: Int, body: String) {
        let headerArguments = headers.map { "-H '\($0)'" }.joined(separator: " ")
        let result = sh("curl -s -X \(method) \(headerArguments) -w '\\n%{http_code}' 'http://127.0.0.1:\(port)\(path)'")
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }
}

/// Where the browser tests leave their screenshots (gitignored).
let artefactsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("artefacts/serve").path

func milliseconds() -> Double { Date().timeIntervalSince1970 * 1000 }

@Suite("nslab serve")
struct ServeTests {
    static let canBrowse = isRoot && Browser.executable != nil

    /// What a person sees: every node and link of the lab, a node's routes on click, verify's
    /// matrix, counters moving, a link taken down with `nslab link` turning red within a second
    /// and back, an impairment marked, and labs appearing and going as they are deployed and
    /// destroyed. (Verify comes before the link goes down: the kernel drops the static routes
    /// through an interface that goes down, and they do not come back with it.)
    @Test(.enabled(if: canBrowse, "needs root (deploys a lab) and Debian's chromium (scripts/install-deps.sh)"))
    func pageShowsTheLabLive() throws {
        let lab = TestLab("serve")
        let other = TestLab("serve2")
        defer { lab.cleanUp(); other.cleanUp() }
        _ = try lab.deploy(routersBody)
        let server = try ServeProcess()
        defer { server.stop() }
        let browser = try Browser()
        defer { browser.close() }
        let section = "document.querySelector('section.lab[data-lab=\"\(lab.name)\"]')"
        try browser.open(server.url, readyWhen: section)
        #expect(try browser.evaluate("document.getElementById('status').dataset.status") as? String == "live")

        // Every node with its kind, every link, each end's interface name and address, all visible.
        let seen = try browser.evaluate("""
            (() => { const s = \(section); const box = s.querySelector('svg').getBoundingClientRect();
              const visible = e => { const r = e.getBoundingClientRect();
                return r.width > 0 && r.height > 0 && r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom; };
              return { nodes: [...s.querySelectorAll('.node')].map(n => n.dataset.node + ' ' + n.dataset.kind).sort(),
                       links: [...s.querySelectorAll('.link')].map(l => l.dataset.link + ' ' + l.dataset.state).sort(),
                       names: [...s.querySelectorAll('.link text.interface')].map(t => t.textContent).sort(),
                       addresses: [...s.querySelectorAll('.link text.address')].map(t => t.textContent).sort(),
                       hidden: [...s.querySelectorAll('.node, .link text')].filter(e => e.textContent && !visible(e)).map(e => e.textContent) }; })()
            """) as? [String: [String]] ?? [:]
        #expect(seen["nodes"] == ["ns01 host", "ns02 host", "router01 router", "router02 router"])
        #expect(seen["links"] == ["ns01:ns01-veth0--router01:gw01-veth0 up", "ns02:ns02-veth0--router02:gw02-veth1 up",
                                  "router01:gw01-veth1--router02:gw02-veth0 up"])
        #expect(seen["names"] == ["gw01-veth0", "gw01-veth1", "gw02-veth0", "gw02-veth1", "ns01-veth0", "ns02-veth0"])
        #expect(seen["addresses"] == ["10.0.0.1/24", "10.0.0.254/24", "172.16.0.1/24", "172.16.0.2/24",
                                      "192.168.0.1/24", "192.168.0.254/24"])
        #expect(seen["hidden"] == [], "drawn outside the picture")
        let shots = "\(artefactsDirectory)/\(lab.name)"
        try browser.screenshot(to: "\(shots)-1-all-up.png")

        // A node's addresses, routes and neighbours, read from the kernel on click.
        try browser.click("section.lab[data-lab=\"\(lab.name)\"] [data-node=\"router01\"] .shape")
        #expect(try browser.wait(for: "document.getElementById('panel-body').dataset.panelNode === '\(lab.name)/router01' && document.querySelector('[data-panel=\"routes\"]')", timeout: 5))
        let panel = try browser.evaluate("document.getElementById('panel').innerText") as? String ?? ""
        #expect(panel.contains("10.0.0.0/24") && panel.contains("172.16.0.2"), "routes: \(panel)")
        #expect(panel.contains("192.168.0.254/24") && panel.contains("172.16.0.1/24"), "addresses: \(panel)")
        #expect(panel.contains("router02:gw02-veth0") && panel.contains("ns01:ns01-veth0"), "peers: \(panel)")
        #expect(try browser.evaluate("Boolean(document.querySelector('#panel [data-panel=\"neighbours\"]'))") as? Bool == true)
        try browser.screenshot(to: "\(shots)-2-node-panel.png")

        // Verify on demand: the matrix, every pair answering.
        let packets = "Number(\(section).querySelector('[data-interface=\"router01:gw01-veth1\"] [data-counter=\"receivedPackets\"]').dataset.value || 0)"
        let packetsBefore = try browser.evaluate(packets) as? Int ?? 0
        try browser.click("[data-verify=\"\(lab.name)\"]")
        let matrix = "document.querySelector('[data-verify-matrix=\"\(lab.name)\"]')"
        #expect(try browser.wait(for: matrix, timeout: 20))
        let cells = try browser.evaluate("[...\(matrix).querySelectorAll('td[data-pair]')].map(c => c.className)") as? [String] ?? []
        #expect(cells.count == 12 && cells.allSatisfy { $0 == "ok" }, "\(cells)")

        // Counters move: verify's probes crossed router01:gw01-veth1.
        let moved = try browser.wait(for: "\(packets) >= \(packetsBefore + 4)", timeout: 4)
        #expect(moved, "counters: \(packetsBefore) packets before verify, \(String(describing: try? browser.evaluate(packets))) after")
        try browser.screenshot(to: "\(shots)-3-verify.png")

        // A link taken down with the command line turns red within a second.
        let link = "router01:gw01-veth1--router02:gw02-veth0"
        let linkElement = "\(section).querySelector('[data-link=\"\(link)\"]')"
        let red = "getComputedStyle(\(linkElement).querySelector('line')).stroke === 'rgb(214, 40, 40)'"
        let commandStarted = milliseconds()
        let down = sh("\(nslabBinary) link \(lab.name) router01:gw01-veth1 down")
        let commandReturned = milliseconds()
        #expect(down.status == 0, "\(down.output)")
        let turnedRed = try browser.wait(for: "\(linkElement).classList.contains('down') && \(red)", timeout: 3)
        #expect(turnedRed)
        let redAt = try browser.evaluate("Number(\(linkElement).dataset.changedAt)") as? Double ?? .infinity
        print("serve: link down → red \(Int(redAt - commandStarted)) ms after `nslab link … down` started, \(Int(redAt - commandReturned)) ms after it returned")
        #expect(redAt - commandStarted < 1000, "the link turned red \(Int(redAt - commandStarted)) ms after the command started")
        #expect(try browser.evaluate("\(linkElement).querySelector('text.state').textContent") as? String == "DOWN")
        #expect(sh("ip -n \(lab.namespace("router01")) link show gw01-veth1").output.contains("state DOWN"))
        try browser.screenshot(to: "\(shots)-4-link-down.png")

        let upStarted = milliseconds()
        #expect(sh("\(nslabBinary) link \(lab.name) router02:gw02-veth0 up").status == 0)
        #expect(try browser.wait(for: "!\(linkElement).classList.contains('down') && !(\(red))", timeout: 3))
        let upAt = try browser.evaluate("Number(\(linkElement).dataset.changedAt)") as? Double ?? .infinity
        print("serve: link up → no longer red \(Int(upAt - upStarted)) ms after `nslab link … up` started")
        #expect(upAt - upStarted < 1000)

        // An impairment is marked on its link, with what it does.
        let impaired = "\(section).querySelector('[data-link=\"ns02:ns02-veth0--router02:gw02-veth1\"]')"
        let impairStarted = milliseconds()
        #expect(sh("\(nslabBinary) link \(lab.name) router02:gw02-veth1 set rate=10mbit").status == 0)
        #expect(try browser.wait(for: "\(impaired).classList.contains('impaired') && \(impaired).querySelector('text.impairment').textContent.includes('10mbit')", timeout: 3))
        print("serve: impairment marked \(Int(milliseconds() - impairStarted)) ms after `nslab link … set rate=10mbit` started")

        // A lab deployed while the page is open appears; destroyed, it goes.
        _ = try other.deploy("""
            nodes: { a: {}, b: {} }
            links: [{ endpoints: [a:eth0, b:eth0], addresses: [10.9.0.1/30, 10.9.0.2/30] }]
            """)
        let otherSection = "document.querySelector('section.lab[data-lab=\"\(other.name)\"]')"
        #expect(try browser.wait(for: "\(otherSection) && \(otherSection).querySelectorAll('.node').length === 2", timeout: 5))
        try browser.screenshot(to: "\(shots)-5-second-lab.png")
        // The server watches it through one netlink socket per node, opened inside the node...
        let serverSockets = { Set(sh("ls -l /proc/\(server.pid)/fd").output.matches(of: /socket:\[(\d+)\]/).map { String($0.1) }) }
        let inLab = Set(["a", "b"].flatMap { node in
            sh("ip netns exec \(other.namespace(node)) cat /proc/net/netlink").output.split(separator: "\n").dropFirst()
                .compactMap { $0.split(separator: " ").last.map(String.init) }
        })
        #expect(serverSockets().intersection(inLab).count == 2, "the server's sockets inside lab \(other.name)")
        // ...and closes them as soon as the lab is destroyed: an open socket would keep the
        // namespace, and its interfaces, alive after destroy.
        _ = try LabDestroyer.destroy(lab: other.name)
        #expect(try browser.wait(for: "!\(otherSection)", timeout: 5))
        #expect(serverSockets().intersection(inLab).isEmpty, "sockets left open in a destroyed lab")

        for name in ["1-all-up", "2-node-panel", "3-verify", "4-link-down", "5-second-lab"] {
            print("serve: screenshot \(shots)-\(name).png")
        }
    }

    /// With --allow-actions, the page's own buttons take a link down and up, with the token the
    /// address handed it; bridges are drawn as switches.
    @Test(.enabled(if: canBrowse, "needs root (deploys a lab) and Debian's chromium (scripts/install-deps.sh)"))
    func actionsFromThePage() throws {
        let lab = TestLab("serve-lan")
        defer { lab.cleanUp() }
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/lan.yaml")
        let body = try String(contentsOf: example, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("name:") && !$0.hasPrefix("#") }.joined(separator: "\n")
        _ = try lab.deploy(body)
        let token = "page-token-\(UInt64.random(in: 0...UInt64.max))"
        let server = try ServeProcess("--allow-actions --token \(token)")
        defer { server.stop() }
        let browser = try Browser()
        defer { browser.close() }
        let section = "document.querySelector('section.lab[data-lab=\"\(lab.name)\"]')"
        try browser.open(server.url + "#token=\(token)", readyWhen: section)
        #expect(try browser.evaluate("location.hash") as? String == "", "the token stays out of the address bar")
        #expect(try browser.evaluate("document.getElementById('mode').dataset.mode") as? String == "actions")
        let kinds = try browser.evaluate("[...\(section).querySelectorAll('.node')].map(n => n.dataset.node + ' ' + n.dataset.kind + ' ' + n.querySelector('.shape').tagName).sort()") as? [String]
        #expect(kinds == ["a1 host circle", "a2 host circle", "a3 host circle", "b1 host circle", "b2 host circle",
                          "gw router rect", "sw1 bridge polygon", "sw2 bridge polygon"])

        let link = try #require(try browser.evaluate("[...\(section).querySelectorAll('[data-link]')].map(l => l.dataset.link).find(id => id.startsWith('a1:'))") as? String)
        let linkElement = "\(section).querySelector('[data-link=\"\(link)\"]')"
        try browser.click("section.lab[data-lab=\"\(lab.name)\"] [data-link=\"\(link)\"] line.hit")
        #expect(try browser.wait(for: "document.querySelector('#panel [data-action=\"down\"]')", timeout: 3))
        try browser.click("#panel [data-action=\"down\"]")
        #expect(try browser.wait(for: "\(linkElement).classList.contains('down')", timeout: 3),
                "\(String(describing: try? browser.evaluate("document.querySelector('#panel .action-output').textContent")))")
        #expect(sh("ip -n \(lab.namespace("a1")) link show eth0").output.contains("state DOWN"))
        try browser.screenshot(to: "\(artefactsDirectory)/\(lab.name)-link-down-from-the-page.png")
        try browser.click("#panel [data-action=\"up\"]")
        #expect(try browser.wait(for: "!\(linkElement).classList.contains('down')", timeout: 3))
        #expect(!sh("ip -n \(lab.namespace("a1")) link show eth0").output.contains("state DOWN"))
        print("serve: screenshot \(artefactsDirectory)/\(lab.name)-link-down-from-the-page.png")
    }

    /// Read-only unless started with --allow-actions: the page may look, not touch.
    @Test(.enabled(if: isRoot, needsRoot))
    func actionsAreRefusedWithoutTheFlag() throws {
        let lab = TestLab("serve-ro")
        defer { lab.cleanUp() }
        _ = try lab.deploy(routersBody)
        let server = try ServeProcess()
        defer { server.stop() }
        #expect(!server.output.contains("token"))
        let answer = server.request("POST", "/api/labs/\(lab.name)/links/router01:gw01-veth1/down",
                                    headers: ["Authorization: Bearer whatever-it-may-be"])
        #expect(answer.status == 403, "\(answer)")
        #expect(answer.body.contains("--allow-actions"))
        #expect(!sh("ip -n \(lab.namespace("router01")) link show gw01-veth1").output.contains("state DOWN"))
        // Reading is allowed, from loopback names only: another host name is DNS rebinding.
        #expect(server.request("GET", "/api/labs/\(lab.name)").status == 200)
        #expect(server.request("GET", "/api/labs/\(lab.name)", headers: ["Host: localhost:\(server.port)"]).status == 200)
        #expect(server.request("GET", "/api/labs/\(lab.name)", headers: ["Host: attacker.example:\(server.port)"]).status == 403)
        #expect(server.request("GET", "/api/labs/nosuchlab").status == 404)
    }

    /// With --allow-actions: no token 401, a wrong one 403, another site's page 403, the token
    /// takes the link down in the kernel and brings it back.
    @Test(.enabled(if: isRoot, needsRoot))
    func actionsNeedTheToken() throws {
        let lab = TestLab("serve-rw")
        defer { lab.cleanUp() }
        _ = try lab.deploy(routersBody)
        let token = "test-token-\(UInt64.random(in: 0...UInt64.max))"
        let server = try ServeProcess("--allow-actions --token \(token)")
        defer { server.stop() }
        let path = "/api/labs/\(lab.name)/links/router01:gw01-veth1/down"
        let isDown = { sh("ip -n \(lab.namespace("router01")) link show gw01-veth1").output.contains("state DOWN") }

        let missing = server.request("POST", path)
        #expect(missing.status == 401, "\(missing)")
        #expect(server.request("POST", path, headers: ["Authorization: Bearer wrong-\(token)"]).status == 403)
        #expect(server.request("POST", path, headers: ["Authorization: \(token)"]).status == 401)
        let crossSite = server.request("POST", path, headers: ["Authorization: Bearer \(token)", "Origin: http://attacker.example"])
        #expect(crossSite.status == 403, "\(crossSite)")
        #expect(server.request("POST", path, headers: ["Authorization: Bearer \(token)", "Host: attacker.example"]).status == 403)
        #expect(!isDown(), "a refused request changed the link")

        let allowed = server.request("POST", path, headers: ["Authorization: Bearer \(token)",
                                                             "Origin: http://127.0.0.1:\(server.port)"])
        #expect(allowed.status == 200, "\(allowed)")
        #expect(isDown())
        #expect(sh("ip -n \(lab.namespace("router02")) link show gw02-veth0").output.contains("state DOWN"), "the peer end too")
        let up = server.request("POST", "/api/labs/\(lab.name)/links/router02:gw02-veth0/up", headers: ["Authorization: Bearer \(token)"])
        #expect(up.status == 200, "\(up)")
        #expect(!isDown())
        #expect(server.request("POST", "/api/labs/\(lab.name)/links/router02:gw02-veth0/sideways",
                               headers: ["Authorization: Bearer \(token)"]).status == 400)
    }

    /// A random token is printed once when none is given.
    @Test(.enabled(if: isRoot, needsRoot))
    func aRandomTokenIsPrinted() throws {
        let server = try ServeProcess("--allow-actions")
        defer { server.stop() }
        let line = server.output.split(separator: "\n").first { $0.contains("token for actions: ") }
        let token = line.map { String($0.split(separator: " ").last ?? "") } ?? ""
        #expect(token.count == 64, "\(server.output)")
        #expect(server.request("POST", "/api/labs/nosuchlab/links/a:b/down", headers: ["Authorization: Bearer \(token)"]).status == 404)
    }

    /// Never beyond loopback unless told: exit 2 and what to add, before anything is bound.
    @Test func bindingBeyondLoopbackIsRefused() {
        for host in ["0.0.0.0", "::", "192.0.2.1"] {
            let result = sh("\(nslabBinary) serve --host \(host) --port 0")
            #expect(result.status == 2, "\(host): \(result.output)")
            #expect(result.output.contains("--allow-remote"), "\(result.output)")
        }
        let token = sh("\(nslabBinary) serve --token abcdefghijklmnopqrstuvwxyz")
        #expect(token.status == 2 && token.output.contains("--allow-actions"), "\(token.output)")
    }
}
