import Dispatch
import Foundation
import Synchronization

/// Progress lines on stderr for work that takes more than a moment.
///
/// A small lab deploys in a few milliseconds; printing its stages would only be noise. Stages
/// are remembered silently, and only once `delay` has passed does the current one appear; from
/// then on each new stage is printed as it starts.
final class Progress: Sendable {
    private struct State {
        var stage: String?
        var stageStarted = ContinuousClock.now
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
            let stage: String? = state.withLock { state in
                guard !state.finished else { return nil }
                state.visible = true
                return state.stage
            }
            if let stage { self.write("… \(stage)", newline: !Self.terminal) }
        }
    }

    /// A new stage ("creating 1001 namespaces"), or a count within the current one ("creating
    /// 1001 namespaces: 500/1001"): the part before ": " names the stage. On a terminal counts
    /// redraw the stage's line (at most ten times a second); elsewhere only stages are printed.
    func stage(_ text: String) {
        let now = ContinuousClock.now
        let key = Self.stageKey(text)
        enum Output { case none, line(String), redraw(String) }
        let output: Output = state.withLock { state in
            let sameStage = state.stage.map(Self.stageKey) == key
            if !sameStage {
                if let previous = state.stage { state.durations.append((Self.stageKey(previous), now - state.stageStarted)) }
                state.stageStarted = now
            }
            state.stage = text
            guard enabled, state.visible, !state.finished else { return .none }
            if !sameStage {
                state.lastDraw = now
                return .line(text)
            }
            guard Self.terminal, now - state.lastDraw >= .milliseconds(100) else { return .none }
            state.lastDraw = now
            return .redraw(text)
        }
        switch output {
        case .none: break
        case .line(let text): write((Self.terminal ? "\n" : "") + "… \(text)", newline: !Self.terminal)
        case .redraw(let text): write("\r\u{1b}[K… \(text)", newline: false)
        }
    }

    private static func stageKey(_ text: String) -> String {
        text.range(of: ": ").map { String(text[..<$0.lowerBound]) } ?? text
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
            if let last = state.stage { state.durations.append((Self.stageKey(last), now - state.stageStarted)) }
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
