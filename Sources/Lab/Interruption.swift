import CShims

/// Ctrl-C, `kill` and a closed terminal during a deploy: the signal is noted, the deploy stops
/// at its next step, removes everything it created, and the command exits 128 + the signal.
/// Library users that never call `catchSignals` keep the default behaviour.
public enum Interruption {
    public static func catchSignals() { nslab_catch_interrupts() }

    /// The signal received since `catchSignals`, if any.
    public static var signal: Int32? {
        let caught = nslab_interrupt_signal()
        return caught == 0 ? nil : caught
    }

    static func check() throws(LabError) {
        if let signal { throw LabError.interrupted(signal: signal) }
    }
}
