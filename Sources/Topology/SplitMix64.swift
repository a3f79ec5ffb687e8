/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same numbers on every platform and
/// Swift version, which replaying a seeded run needs (Swift's own random APIs promise neither):
/// verify's `--sample`, the fuzzer, randomised tests.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (Lemire's multiply-high; the bias is below 2⁻³² for any lab size).
    public mutating func next(below bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}
