import Foundation
import Testing
@testable import Lab
import TestSupport

/// A running `nslab events --json LAB…` (the built binary), its stdout and stderr in files.
private final class EventsProcess {
    let pid: Int32
    let output: String
    let errors: String

    init(_ arguments: String, tag: String) throws {
        output = "/tmp/\(tag)-events.jsonl"
        errors = "/tmp/\(tag)-events.err"
        let started = sh("\(nslabBinary) events --json \(arguments) > \(output) 2> \(errors) & echo $!")
        pid = try #require(Int32(started.output.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Every JSON line printed so far, decoded.
    var events: [LabEvent] {
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(LabEvent.self, from: Data($0.utf8)) }
    }

    var stderr: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }

    /// Waits (up to 10 s) for an event after position `after` that `matches`; its position.
    func waitFor(after: Int = -1, _ description: String, _ matches: (LabEvent) -> Bool) -> Int? {
        var found: Int?
        _ = waitUntil(seconds: 10) {
            found = events.enumerated().first { $0.offset > after && matches($0.element) }?.offset
            return found != nil
        }
        if found == nil { Issue.record("no \(description) event after #\(after) in:\n\(events.map(\.line).joined(separator: "\n"))\n\(stderr)") }
        return found
    }

    func end() {
        if isAlive(pid) { kill(pid, SIGTERM) }
        _ = waitUntil { !isAlive(pid) }
        try? FileManager.default.removeItem(atPath: output)
        try? FileManager.default.removeItem(atPath: errors)
    }
}

/// examples/routers.yaml, with a command on ns01, so that a process is there to start and end.
private let eventsBody = routersBody.replacingOccurrences(of: "ns01:     { routes: [default via 192.168.0.254] }",
                                                          with: "ns01:     { routes: [default via 192.168.0.254], commands: [\"sleep 600\"] }")

@Suite("nslab events against the kernel", .enabled(if: isRoot, "\(needsRoot)"))
struct EventsCommandTests {
    /// The stream while a lab is deployed, a link taken down and up, an address added by hand, a
    /// node stopped and started, a changed file converged and the lab destroyed: each change in
    /// order with its names, and the stream ends by itself after the destroy.
    @Test func eventsOfALabsLife() throws {
        let lab = TestLab("events")
        defer { lab.cleanUp() }
        #expect(eventsBody.contains("sleep 600"))
        let events = try EventsProcess(lab.name, tag: lab.name)
        defer { events.end() }
        #expect(waitUntil { events.stderr.contains("waiting for lab \(lab.name)") })

        try lab.deploy(eventsBody)
        let deployed = events.waitFor("lab-deployed") { $0.type == .labDeployed && $0.lab == lab.name }
        let started = events.waitFor("process-started") {
            $0.type == .processStarted && $0.node == "ns01" && $0.command?.contains("sleep 600") == true && $0.pid != nil
        }
        #expect(started.map { $0 < (deployed ?? 0) } == true, "commands start before the deploy is over")

        #expect(sh("\(nslabBinary) link \(lab.name) router01:gw01-veth1 down").status == 0)
        let down = events.waitFor(after: deployed ?? -1, "link-down") {
            $0.type == .linkDown && $0.interface == "router01:gw01-veth1" && $0.node == "router01"
        }
        _ = events.waitFor(after: deployed ?? -1, "link-down of the other end") {
            $0.type == .linkDown && $0.interface == "router02:gw02-veth0"
        }
        #expect(sh("\(nslabBinary) link \(lab.name) router01:gw01-veth1 up").status == 0)
        let up = events.waitFor(after: down ?? -1, "link-up") { $0.type == .linkUp && $0.interface == "router01:gw01-veth1" }
        // The kernel drops the link's routes without announcing it; `link up` adds them back
        // (as `ip route add` does: proto boot), and the kernel its subnet route.
        _ = events.waitFor(after: down ?? -1, "route-added") {
            $0.type == .routeAdded && $0.node == "router01" && $0.destination == "10.0.0.0/24" && $0.gateway == "172.16.0.2"
                && $0.interface == "router01:gw01-veth1" && $0.protocol == "boot"
        }
        _ = events.waitFor(after: down ?? -1, "kernel route-added") {
            $0.type == .routeAdded && $0.node == "router01" && $0.destination == "172.16.0.0/24" && $0.protocol == "kernel"
        }

        #expect(sh("ip -n \(lab.namespace("ns02")) address add 10.99.0.1/24 dev ns02-veth0").status == 0)
        let address = events.waitFor(after: up ?? -1, "address-added") {
            $0.type == .addressAdded && $0.interface == "ns02:ns02-veth0" && $0.address == "10.99.0.1/24"
        }

        #expect(sh("ip -n \(lab.namespace("ns02")) route del default").status == 0)
        let routeRemoved = events.waitFor(after: address ?? -1, "route-removed") {
            $0.type == .routeRemoved && $0.node == "ns02" && $0.destination == "default" && $0.gateway == "10.0.0.254"
        }

        #expect(sh("\(nslabBinary) node \(lab.name) router02 stop").status == 0)
        let stopped = events.waitFor(after: routeRemoved ?? -1, "node-stopped") { $0.type == .nodeStopped && $0.node == "router02" }
        _ = events.waitFor(after: routeRemoved ?? -1, "carrier-down at router02's neighbour") {
            $0.type == .carrierDown && $0.interface == "ns02:ns02-veth0"
        }
        #expect(sh("\(nslabBinary) node \(lab.name) router02 start").status == 0)
        let restarted = events.waitFor(after: stopped ?? -1, "node-started") { $0.type == .nodeStarted && $0.node == "router02" }

        // The file changed: ns02's link gets a second address; the hand-made one stays (no --prune).
        try lab.deploy(eventsBody.replacingOccurrences(of: "[10.0.0.254/24, 10.0.0.1/24]",
                                                       with: "[10.0.0.254/24, [10.0.0.1/24, 10.0.1.1/24]]"))
        let converged = events.waitFor(after: restarted ?? -1, "lab-converged") { $0.type == .labConverged && $0.lab == lab.name }
        _ = events.waitFor(after: restarted ?? -1, "address-added by the converge") {
            $0.type == .addressAdded && $0.interface == "ns02:ns02-veth0" && $0.address == "10.0.1.1/24"
        }
        _ = events.waitFor(after: restarted ?? -1, "the default route put back by the converge") {
            $0.type == .routeAdded && $0.node == "ns02" && $0.destination == "default"
        }

        _ = try LabDestroyer.destroy(lab: lab.name)
        let exited = events.waitFor(after: converged ?? -1, "process-exited") { $0.type == .processExited && $0.node == "ns01" }
        let destroyed = events.waitFor(after: converged ?? -1, "lab-destroyed") { $0.type == .labDestroyed && $0.lab == lab.name }
        #expect((exited ?? .max) < (destroyed ?? -1), "destroy ends the node's processes before it removes the record")
        #expect(waitUntil(seconds: 10) { !isAlive(events.pid) }, "the stream ends once its lab is destroyed")
        #expect(events.events.allSatisfy { $0.lab == lab.name }, "only the lab named")
        // Every line carries an ISO 8601 time with milliseconds.
        #expect(events.events.allSatisfy { $0.time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"#, options: .regularExpression) != nil })
    }

    /// A lab name that cannot be one is refused with exit 2, naming it.
    @Test func badLabNameRefused() throws {
        let bad = sh("\(nslabBinary) events 'no/such' 2>&1")
        #expect(bad.status == 2 && bad.output.contains("no/such"))
    }
}
