/// "1 process", "3 processes", "0 links": a count with its noun in the right number, for every
/// message that counts something.
public func counted(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) \(n == 1 ? singular : plural ?? singular + "s")"
}
