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
        guard enabled else { return }
        let show = state.withLock { state in
            state.stage = text
            return state.visible && !state.finished
        }
        if show { note("… \(text)") }
    }

    /// No more lines after this, even if the timer fires later.
    func finish() {
        state.withLock { $0.finished = true }
    }
}
