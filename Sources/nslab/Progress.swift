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
            if let stage { note("… \(stage)") }
        }
    }

    func stage(_ text: String) {
        let now = ContinuousClock.now
        state.withLock { state in
            if let previous = state.stage { state.durations.append((previous, now - state.stageStarted)) }
            state.stageStarted = now
        }
        guard enabled else {
            state.withLock { $0.stage = text }
            return
        }
        let show = state.withLock { state in
            state.stage = text
            return state.visible && !state.finished
        }
        if show { note("… \(text)") }
    }

    /// No more lines after this, even if the timer fires later.
    func finish() {
        let now = ContinuousClock.now
        let durations: [(String, Duration)]? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            if let last = state.stage { state.durations.append((last, now - state.stageStarted)) }
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
