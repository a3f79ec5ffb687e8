import CShims
import Foundation
import Namespaces
import Netlink
import Topology

/// A failure scenario run from the command line: take the link down after `downAfter`, keep it
/// down for `downFor`, bring it up; `times` times, `upFor` apart. Every change is reported with
/// its wall-clock time, so what the user's software logged can be lined up with it.
public struct LinkFlap: Sendable {
    public var downAfter: Double
    public var downFor: Double
    public var upFor: Double
    public var times: Int

    public init(downAfter: Double, downFor: Double, upFor: Double? = nil, times: Int = 1) {
        self.downAfter = downAfter; self.downFor = downFor; self.upFor = upFor ?? downFor; self.times = times
    }

    /// "2", "2s", "500ms": seconds when no unit is given (unlike tc's microseconds: these are
    /// schedule times, not netem delays).
    public static func seconds(_ text: String) -> Double? { FlapSchedule.seconds(text) }

    /// Runs the schedule; `log` gets one line per change. Ctrl-C (the interrupt flag) stops it
    /// and leaves the link up, as it was before.
    public func run(lab: String, target: String, log: (String) -> Void) throws {
        let (network, ends) = try LinkControl.ends(lab: lab, target: target)
        let label = ends.map(\.id).joined(separator: " <-> ")
        func set(_ up: Bool) throws {
            try LinkControl.setState(ends, in: network, up: up)
            log("\(Self.timestamp()) link \(label) \(up ? "up" : "down")")
        }
        var isDown = false
        defer { if isDown { try? set(true) } }
        for round in 0..<times {
            guard Self.wait(round == 0 ? downAfter : upFor) else { return }
            try set(false); isDown = true
            guard Self.wait(downFor) else { return }
            try set(true); isDown = false
        }
    }

    /// Sleeps, waking every 20 ms to notice an interrupt. false when interrupted.
    static func wait(_ seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if nslab_interrupt_signal() != 0 { return false }
            usleep(UInt32(max(0, min(20_000, deadline.timeIntervalSinceNow * 1e6))))
        }
        return nslab_interrupt_signal() == 0
    }

    /// Deploy: every link's `flap:` becomes a background `nslab link LAB END flap …`, started in
    /// the node of the link's first end as a recorded node process, so `inspect` lists it, its
    /// log (the timestamped changes) is under /run/nslab/LAB/logs/ and `destroy` ends it.
    static func startDeclared(_ topology: Topology, record: LabRecord,
                              nodes: [DeployedNode]) throws {
        let flaps = PlannedFlap.all(topology)
        guard !flaps.isEmpty else { return }
        let byName = Dictionary(nodes.map { ($0.node.name, $0.namespace) }, uniquingKeysWith: { first, _ in first })
        for flap in flaps {
            guard let namespace = try byName[flap.end.node]?.open() else { continue }
            _ = try start(flap, namespace: namespace, record: record)
        }
    }

    /// One schedule started in its node (deploy, converge), recorded with origin "flap".
    static func start(_ flap: PlannedFlap, namespace: NetworkNamespace, record: LabRecord) throws -> RecordedProcess {
        guard let executable = nslabExecutable() else {
            throw LabError.refused("cannot start the links' flap: schedules: the nslab executable was not found (/proc/self/exe, or nslab beside it)")
        }
        return try NodeProcesses.start([executable] + flap.arguments, origin: "flap", node: flap.end.node, namespace: namespace,
                                       utsFD: nil, record: record)
    }

    /// This process when it is nslab; else (the test runner) the nslab built beside it.
    static func nslabExecutable() -> String? {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        if (path as NSString).lastPathComponent == "nslab" { return path }
        let beside = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("nslab")
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : nil
    }

    /// ISO 8601 with milliseconds, local time, as log files usually carry.
    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone.current
        return formatter.string(from: Date())
    }
}
