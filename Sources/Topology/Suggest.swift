/// "Did you mean …?" for misspelt keys, node names and interface names.
public enum Suggest {
    /// Damerau–Levenshtein distance (optimal string alignment): a swapped pair of letters is
    /// the most common typo in hand-written names ("ruotes") and should cost one edit, not two.
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous2 = [Int](repeating: 0, count: y.count + 1)
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                var best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    best = min(best, previous2[j - 2] + 1)
                }
                current[j] = best
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[y.count]
    }

    /// The closest candidate, if it is close enough to be a plausible typo. Case differences are
    /// compared case-insensitively first so "Routes" finds "routes" even for short words.
    public static func closest(to word: String, among candidates: some Sequence<String>) -> String? {
        let lowered = word.lowercased()
        var best: (candidate: String, distance: Int)?
        for candidate in candidates where candidate != word {
            let d = candidate.lowercased() == lowered ? 0 : distance(lowered, candidate.lowercased())
            if best == nil || d < best?.distance ?? Int.max { best = (candidate, d) }
        }
        guard let best else { return nil }
        // A third of the length, at least one edit, tolerates one or two typos in real names
        // without proposing unrelated words for short ones ("mtu" for "foo").
        let allowed = max(1, min(word.count, best.candidate.count) / 3)
        return best.distance <= allowed ? best.candidate : nil
    }

    /// "did you mean 'x'?" or nil.
    public static func didYouMean(_ word: String, among candidates: some Sequence<String>) -> String? {
        closest(to: word, among: candidates).map { "did you mean '\($0)'?" }
    }
}
