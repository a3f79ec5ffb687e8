import ArgumentParser
import Foundation

/// Where the commands that write a topology file (generate, adopt, export) put it: stdout, or a
/// file that is never overwritten unless asked.
enum OutputFile {
    /// Writes `text` to `path`, or to stdout when there is none or it is "-". An existing file is bad input
    /// unless `force`; a file that cannot be written is a failure (exit 1).
    static func write(_ text: String, to path: String?, force: Bool) throws {
        // "-" is stdout, as for every tool that takes -o.
        guard let path, path != "-" else {
            print(text, terminator: "")
            return
        }
        if FileManager.default.fileExists(atPath: path) && !force {
            throw BadInput("\(path) exists; choose another file or add --force to overwrite it")
        }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            note("nslab: cannot write \(path): \(error.localizedDescription)")
            throw ExitCode(1)
        }
    }
}
