import Foundation
import Testing
@testable import Lab

/// `nslab events` and `nslab serve` of a lab spread over hosts, from its controller (host 1 of
/// three simulated hosts, scripts/sim-hosts.sh): every host's part in one stream and on one page,
/// through each host's own nslab over ssh, and no ssh or nslab left running afterwards.
@Suite(.serialized, .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"),
                            "needs root and openssh-server: simulated hosts run their own sshd"))
struct SpreadEventsTests {
    typealias Hosts = SpreadLabTests.Hosts

    /// A program started in the background on host 1, its output and errors in files of the
    /// test's directory, ended by its pid.
    struct Background {
        let pid: Int32
        let output: String
        let errors: String

        init(_ hosts: Hosts, _ command: String, tag: String) throws {
            output = "\(hosts.directory)/\(tag).out"
            errors = "\(hosts.directory)/\(tag).err"
            let started = hosts.run(1, "\(command) > \(output) 2> \(errors) < /dev/null & echo $!")
            pid = try #require(Int32(started.output.trimmingCharacters(in: .whitespacesAndNewlines)), "\(started.output)")
        }

        var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }

        /// Every event printed so far (with --json).
        var events: [LabEvent] {
            text.split(separator: "\n").compactMap { try? JSONDecoder().decode(LabEvent.self, from: Data($0.utf8)) }
        }

        /// SIGTERM, then waits (up to 10 s) for it to be gone; true when it went.
        @discardableResult
        func end() -> Bool {
            if isAlive(pid) { kill(pid, SIGTERM) }
            return waitUntil(seconds: 10) { !isAlive(pid) }
        }
    }

    /// The pids of the processes called `name` (ssh, nslab) that run in host k's network
    /// namespace: the controller's ssh clients and connections, a host's nslab events.
    static func processes(_ name: String, on hosts: Hosts, _ k: Int) -> [String] {
        let anchor = "/tmp/nslab-sim/\(hosts.name)/\(hosts.host(k))/anchor"
        return sh("""
            a=$(cat \(anchor)); for p in $(pgrep -x \(name)); do
              [ "$(readlink /proc/$p/ns/net)" = "$(readlink /proc/$a/ns/net)" ] && echo $p; done
            """).output.split(separator: "\n").map(String.init)
    }

    /// No ssh on the controller and no nslab on any host: every follower ended everything it
    /// started, here and there (waiting a little for the hosts' nslab to see their output close).
    static func nothingRunning(on hosts: Hosts, sourceLocation: SourceLocation = #_sourceLocation) {
        let gone = waitUntil(seconds: 10) {
            processes("ssh", on: hosts, 1).isEmpty && (1...3).allSatisfy { processes("nslab", on: hosts, $0).isEmpty }
        }
        let left = "ssh on host 1: \(processes("ssh", on: hosts, 1)), nslab on the hosts: \((1...3).map { processes("nslab", on: hosts, $0) })"
        #expect(gone, "left running: \(left)", sourceLocation: sourceLocation)
    }

    /// SpreadLabTests' lab over three hosts, deployed from host 1: its name.
    static func deployLab(on hosts: Hosts) throws -> String {
        let name = "\(hosts.name)-lab"
        try hosts.write("lab.yaml", SpreadLabTests.lab(name: name))
        let deploy = hosts.run(1, "nslab deploy --quiet lab.yaml")
        try #require(deploy.status == 0, "\(deploy.output)")
        return name
    }

    @Test("events of every host's part in the controller's stream, each named by its host; a host that cannot be reached is named and the others go on; SIGTERM and the lab's destroy end every ssh")
    func eventsOfEveryHost() throws {
        let hosts = try Hosts()
        defer { hosts.remove() }
        let name = try Self.deployLab(on: hosts)

        let json = try Background(hosts, "nslab events --json \(name)", tag: "json")
        defer { json.end() }
        let text = try Background(hosts, "nslab events \(name)", tag: "text")
        defer { text.end() }
        // With no LAB: every lab recorded here, a spread one on its hosts too.
        let every = try Background(hosts, "nslab events --json", tag: "every")
        defer { every.end() }
        for follower in [json, text, every] {
            #expect(waitUntil(seconds: 20) { ["h2", "h3"].allSatisfy { follower.stderr.contains("following lab \(name) on host \($0)") } },
                    "\(follower.stderr)")
        }

        // A link inside host 2's part: both its ends, on host 2, named as in the whole lab.
        #expect(hosts.run(1, "nslab link \(name) b:eth0 down").status == 0)
        #expect(waitUntil(seconds: 10) { json.events.contains { $0.type == .linkDown && $0.interface == "b:eth0" && $0.host == "h2" } },
                "\(json.text)\n\(json.stderr)")
        #expect(waitUntil(seconds: 10) { json.events.contains { $0.type == .linkDown && $0.interface?.hasPrefix("sw:") == true && $0.host == "h2" } })
        #expect(waitUntil(seconds: 10) { text.text.contains("\(name) link-down b:eth0 on h2") }, "\(text.text)")
        #expect(waitUntil(seconds: 10) { every.events.contains { $0.type == .linkDown && $0.interface == "b:eth0" && $0.host == "h2" } },
                "\(every.text)\n\(every.stderr)")
        // A link between hosts: this machine's end (no host) and host 2's end.
        #expect(hosts.run(1, "nslab link \(name) r1:eth1 down").status == 0)
        #expect(waitUntil(seconds: 10) {
            json.events.contains { $0.type == .linkDown && $0.interface == "r1:eth1" && $0.host == nil }
                && json.events.contains { $0.type == .linkDown && $0.interface == "sw:eth0" && $0.host == "h2" }
        }, "\(json.text)")
        #expect(json.text.contains("\"host\":\"h2\"") && !json.text.contains("\"host\":\"\""))

        // SIGTERM ends the text follower and everything it started: its ssh here, its nslab there.
        #expect(text.end())
        #expect(waitUntil(seconds: 10) {
            sh("pgrep -f 'nslab-ssh-0/[%]C-[0-9]*-\(text.pid)'").output.isEmpty
                && (2...3).allSatisfy { Self.processes("nslab", on: hosts, $0).count == 2 }  // the other two followers'
        }, "left by the follower ended: \(sh("pgrep -af 'nslab-ssh-0/[%]C-[0-9]*-\(text.pid)'").output) \((2...3).map { Self.processes("nslab", on: hosts, $0) })")

        // Host 3 cannot be reached: a follower started now says so, and follows host 2.
        sh("\(SpreadLabTests.script) stop-sshd \(hosts.host(3))")
        let partial = try Background(hosts, "nslab events --json \(name)", tag: "partial")
        defer { partial.end() }
        #expect(waitUntil(seconds: 20) { partial.stderr.contains("host h3 cannot be reached") && partial.stderr.contains("on host h2") },
                "\(partial.stderr)")
        #expect(hosts.run(1, "nslab link \(name) b:eth0 up").status == 0)
        #expect(waitUntil(seconds: 10) { partial.events.contains { $0.type == .linkUp && $0.interface == "b:eth0" && $0.host == "h2" } },
                "\(partial.text)\n\(partial.stderr)")
        #expect(isAlive(partial.pid))
        #expect(partial.end())
        sh("\(SpreadLabTests.script) start-sshd \(hosts.host(3))")

        // The lab's destroy: every host's part goes, then this machine's, and the stream ends by itself.
        hosts.destroyLeavingNothing(name)
        #expect(waitUntil(seconds: 20) { !isAlive(json.pid) && !isAlive(every.pid) },
                "still following after the destroy: \(json.stderr)\n\(every.stderr)")
        let destroyed = json.events.filter { $0.type == .labDestroyed }.map { $0.host ?? "" }
        #expect(destroyed.sorted() == ["", "h2", "h3"], "\(json.text)")
        Self.nothingRunning(on: hosts)
    }

    /// A lab's view on the serve page, read from its JSON API as the page reads it.
    struct PageLab: Decodable {
        struct Node: Decodable {
            var name: String
            var host: String?
            var present: Bool
            var interfaces: [Interface]
        }
        struct Interface: Decodable {
            var name: String
            var up: Bool
            var carrier: Bool
            var peer: String?
            var impairment: String?
        }
        struct Link: Decodable { var id: String }
        var nodes: [Node]
        var links: [Link]

        func interface(_ end: String) -> Interface? {
            let parts = end.split(separator: ":").map(String.init)
            return nodes.first { $0.name == parts[0] }?.interfaces.first { $0.name == parts[1] }
        }
    }

    @Test("serve on the controller shows every host's nodes and links live, reads a remote node there, acts on a link between hosts at both ends, verifies from every host, and leaves no ssh behind")
    func servePageOfEveryHost() throws {
        let hosts = try Hosts()
        defer { hosts.remove() }
        let name = try Self.deployLab(on: hosts)

        let token = "spread-token-\(UInt64.random(in: 0...UInt64.max))"
        let server = try Background(hosts, "nslab serve --port 0 --allow-actions --token \(token)", tag: "serve")
        defer { server.end() }
        var port = ""
        #expect(waitUntil(seconds: 30) {
            port = server.stderr.firstMatch(of: /http:\/\/127\.0\.0\.1:(\d+)\//).map { String($0.1) } ?? ""
            return !port.isEmpty
        }, "\(server.stderr)")
        func request(_ method: String, _ path: String, auth: Bool = false) -> (status: Int, body: String) {
            let header = auth ? "-H 'Authorization: Bearer \(token)'" : ""
            let result = hosts.run(1, "curl -s -X \(method) \(header) -w '\\n%{http_code}' 'http://127.0.0.1:\(port)\(path)'")
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
        }
        func page() -> PageLab? {
            let answer = request("GET", "/api/labs/\(name)")
            return answer.status == 200 ? try? JSONDecoder().decode(PageLab.self, from: Data(answer.body.utf8)) : nil
        }

        // Every node of the lab with its host, the links inside each host and those between hosts.
        var lab: PageLab?
        #expect(waitUntil(seconds: 30) { lab = page(); return lab?.nodes.count == 7 }, "\(request("GET", "/api/labs/\(name)"))")
        let placed = Dictionary(uniqueKeysWithValues: (lab?.nodes ?? []).map { ($0.name, $0.host ?? "") })
        #expect(placed == ["a": "", "r1": "", "sw": "h2", "b": "h2", "c": "h2", "r2": "h3", "d": "h3"])
        #expect(lab?.nodes.allSatisfy(\.present) == true)
        let links = Set((lab?.links ?? []).map(\.id))
        #expect(links.contains("r1:eth1--sw:eth0"), "the link between this machine and h2: \(links)")
        #expect(links.contains("r2:eth0--sw:eth3"), "the link between h3 and h2: \(links)")
        #expect(links.contains("d:eth0--r2:eth1"), "a link inside h3: \(links)")
        #expect(links.count == 6, "\(links)")
        #expect(lab?.interface("r1:eth1")?.peer == "sw:eth0")

        // What a person sees, with a browser on host 1: every node with its host, the links between hosts.
        let browser = ServeTests.canBrowse ? try Browser(through: [SpreadLabTests.script, "run", hosts.host(1)]) : nil
        defer { browser?.close() }
        let section = "document.querySelector('section.lab[data-lab=\"\(name)\"]')"
        if let browser {
            try browser.open("http://127.0.0.1:\(port)/", readyWhen: "\(section) && \(section).querySelectorAll('.node').length === 7")
            let drawn = try browser.evaluate("""
                [...\(section).querySelectorAll('.node')].map(n => n.dataset.node + ' ' + n.dataset.host + ' '
                  + (n.querySelector('text.host')?.textContent ?? '-')).sort()
                """) as? [String]
            #expect(drawn == ["a  -", "b h2 on h2", "c h2 on h2", "d h3 on h3", "r1  -", "r2 h3 on h3", "sw h2 on h2"])
            #expect(try browser.evaluate("Boolean(\(section).querySelector('[data-link=\"r1:eth1--sw:eth0\"] line'))") as? Bool == true)
            // A node of host 3, clicked: read there, its host named.
            try browser.click("section.lab[data-lab=\"\(name)\"] [data-node=\"d\"] .shape")
            #expect(try browser.wait(for: "document.getElementById('panel-body').dataset.panelNode === '\(name)/d' && document.querySelector('[data-panel=\"routes\"]')", timeout: 10))
            let panel = try browser.evaluate("document.getElementById('panel').innerText") as? String ?? ""
            #expect(panel.contains("on host h3") && panel.contains("10.3.0.2/24") && panel.contains("10.3.0.1"), "\(panel)")
        }

        // A link inside host 2 taken down from the command line: the page has it down.
        #expect(hosts.run(1, "nslab link \(name) b:eth0 down").status == 0)
        #expect(waitUntil(seconds: 10) { page()?.interface("b:eth0")?.up == false }, "\(String(describing: page()?.interface("b:eth0")))")
        if let browser {
            #expect(try browser.wait(for: "\(section).querySelector('[data-link=\"b:eth0--sw:eth1\"]').classList.contains('down')", timeout: 5))
            try browser.screenshot(to: "\(artefactsDirectory)/\(name)-spread-link-down.png")
            print("serve: screenshot \(artefactsDirectory)/\(name)-spread-link-down.png")
        }
        #expect(hosts.run(1, "nslab link \(name) b:eth0 up").status == 0)
        #expect(waitUntil(seconds: 10) { page()?.interface("b:eth0")?.up == true })
        // An impairment set on host 2 is on the page too.
        #expect(hosts.run(1, "nslab link \(name) c:eth0 set rate=10mbit").status == 0)
        #expect(waitUntil(seconds: 10) { page()?.interface("c:eth0")?.impairment?.contains("rate=10mbit") == true },
                "\(String(describing: page()?.interface("c:eth0")))")

        // A node on host 3, read there on demand.
        let node = request("GET", "/api/labs/\(name)/nodes/d")
        #expect(node.status == 200 && node.body.contains("10.3.0.2/24") && node.body.contains("\"routes\""), "\(node)")

        // The link between this machine and host 2 taken down from the page: both ends, each on its host.
        let followers = Self.processes("nslab", on: hosts, 2)
        #expect(followers.count == 1, "the server's nslab events on host 2: \(followers)")
        let down = request("POST", "/api/labs/\(name)/links/sw:eth0/down", auth: true)
        #expect(down.status == 200, "\(down)")
        #expect(hosts.run(2, "ip -n sw -br link show eth0").output.contains("DOWN"))
        #expect(hosts.run(1, "ip -n r1 -br link show eth1").output.contains("DOWN"))
        #expect(waitUntil(seconds: 10) { page().map { $0.interface("sw:eth0")?.up == false && $0.interface("r1:eth1")?.up == false } ?? false })
        let up = request("POST", "/api/labs/\(name)/links/r1:eth1/up", auth: true)
        #expect(up.status == 200, "\(up)")
        #expect(waitUntil(seconds: 10) { page().map { $0.interface("sw:eth0")?.up == true && $0.interface("r1:eth1")?.up == true } ?? false })
        // This machine's record changed (the link's state is kept there): the lab was read again,
        // and host 2 is still followed by the same stream (the reading's nslab inspect there ends).
        #expect(waitUntil(seconds: 10) { Self.processes("nslab", on: hosts, 2) == followers },
                "\(Self.processes("nslab", on: hosts, 2)), was \(followers)")

        // Verify from the page: every host probes from its nodes, one report of the whole lab.
        let verify = request("POST", "/api/labs/\(name)/verify")
        #expect(verify.status == 200, "\(verify)")
        let report = try? JSONDecoder().decode(VerifyReport.self, from: Data(verify.body.utf8))
        #expect(report?.passed == true && Set(report?.nodes ?? []) == ["a", "r1", "b", "c", "r2", "d"], "\(verify.body.prefix(2000))")
        #expect(report.map { $0.probes > 0 && $0.answered == $0.probes } == true)

        #expect(server.end(), "serve did not stop on SIGTERM: \(server.stderr)")
        Self.nothingRunning(on: hosts)
        hosts.destroyLeavingNothing(name)
    }
}
