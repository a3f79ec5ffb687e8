import Dispatch
import Foundation
import Lab
import Synchronization

/// Progress lines on stderr for work that takes more than a moment: on a terminal one line per
/// stage, redrawn as a bar with the rate and the time left while it counts; elsewhere plain lines.
///
/// A small lab deploys in a few milliseconds; printing its stages would only be noise. Stages
/// are remembered silently, and only once `delay` has passed does the current one appear; from
/// then on each new stage is printed as it starts.
final class Progress: Sendable {
    private struct State {
        /// The current stage's name, and its latest step.
        var stage: String?
        var step: ProgressStep?
        var stageStarted = ContinuousClock.now
        /// Without a terminal: how many quarters of the current count were printed.
        var quartersShown = 0
        /// Each finished stage and how long it took, for NSLAB_TIMINGS=1.
        var durations: [(String, Duration)] = []
        var visible = false
        var finished = false
        var lastDraw = ContinuousClock.now
    }
    private let state = Mutex(State())
    private let enabled: Bool

    init(enabled: Bool, delay: Duration = .milliseconds(300)) {
        self.enabled = enabled
        guard enabled else { return }
        let nanoseconds = delay.components.attoseconds / 1_000_000_000 + delay.components.seconds * 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in
            let line: String? = state.withLock { state in
                guard !state.finished else { return nil }
                state.visible = true
                return state.step.map { Self.terminal ? Self.render($0, since: state.stageStarted, now: .now) : $0.stageName }
            }
            if let line { self.write("… \(line)", newline: !Self.terminal) }
        }
    }

    /// A new stage ("creating 1001 namespaces"), or a count within the current one. On a
    /// terminal a count redraws the stage's line as a bar with the rate and the time left (at
    /// most ten times a second); elsewhere a stage is one plain line, and its counts a line at
    /// each quarter done.
    func stage(_ step: ProgressStep) {
        let now = ContinuousClock.now
        let key = step.stageName
        enum Output { case none, line(String), redraw(String) }
        let output: Output = state.withLock { state in
            let sameStage = state.stage == key
            if !sameStage {
                if let previous = state.stage { state.durations.append((previous, now - state.stageStarted)) }
                state.stageStarted = now
                state.quartersShown = 0
            }
            state.stage = key
            state.step = step
            guard enabled, state.visible, !state.finished else { return .none }
            if !sameStage {
                state.lastDraw = now
                return .line(Self.terminal ? Self.render(step, since: state.stageStarted, now: now) : key)
            }
            guard case .count(_, let done, let total) = step, total > 0 else { return .none }
            if Self.terminal {
                guard now - state.lastDraw >= .milliseconds(100) || done == total else { return .none }
                state.lastDraw = now
                return .redraw(Self.render(step, since: state.stageStarted, now: now))
            }
            let quarter = done * 4 / total
            guard quarter > state.quartersShown else { return .none }
            state.quartersShown = quarter
            return .line(Self.render(step, since: state.stageStarted, now: now))
        }
        switch output {
        case .none: break
        case .line(let text): write((Self.terminal ? "\n" : "") + "… \(text)", newline: !Self.terminal)
        case .redraw(let text): write("\r\u{1b}[K… \(text)", newline: false)
        }
    }

    /// "creating 1000 namespaces [#####.....] 500/1000, 420/s, about 1 s left".
    static func render(_ step: ProgressStep, since start: ContinuousClock.Instant, now: ContinuousClock.Instant) -> String {
        guard case .count(let stage, let done, let total) = step, total > 0 else { return step.stageName }
        let width = 20
        let filled = min(width, done * width / total)
        var text = "\(stage) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)"
        let elapsed = Double((now - start).components.seconds) + Double((now - start).components.attoseconds) / 1e18
        if done > 0, elapsed > 0 {
            let rate = Double(done) / elapsed
            text += ", \(Int(rate.rounded()))/s"
            if done < total { text += ", about \(Int((Double(total - done) / rate).rounded(.up))) s left" }
        }
        return text
    }

    /// Stage lines on a terminal stay open for their counts and are ended by the next one.
    private static let terminal = isatty(2) == 1

    private func write(_ text: String, newline: Bool) {
        FileHandle.standardError.write(Data((text + (newline ? "\n" : "")).utf8))
    }

    /// No more lines after this, even if the timer fires later.
    func finish() {
        let now = ContinuousClock.now
        let durations: [(String, Duration)]? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            if let last = state.stage { state.durations.append((last, now - state.stageStarted)) }
            if state.visible && Self.terminal { FileHandle.standardError.write(Data("\n".utf8)) }
            return state.durations
        }
        // Where the time of a deploy goes, for benchmarks and for whoever makes it faster.
        if let durations, ProcessInfo.processInfo.environment["NSLAB_TIMINGS"] == "1" {
            for (stage, duration) in durations {
                let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
                note(String(format: "timing: %8.1f ms  %@", ms, stage))
            }
        }
    }
}
