import Foundation

/// What one line of a host's `nslab events --json --announce-start` says.
public enum RemoteEventLine: Equatable, Sendable {
    /// A change in the host's part, named by its host.
    case event(LabEvent)
    /// The host follows its labs from here on: every change from now is in the stream.
    case started
    /// Not a line of the stream (a login banner, say): kept for the message if the stream fails.
    case unreadable(String)
}

/// The line `--announce-start` prints once the host's sockets are open: a JSON object of its own
/// shape, so that no event can be mistaken for it.
struct FollowingAnnouncement: Codable, Equatable {
    var following: [String]
}

/// Cuts a host's output into lines as it arrives (a read may end anywhere, even inside a UTF-8
/// character) and reads each line as the events' JSON, the event named by its host.
public struct RemoteEventLines: Sendable {
    public let host: String
    private var partial: [UInt8] = []

    public init(host: String) { self.host = host }

    /// The complete lines in what has arrived so far; the rest waits for its newline.
    public mutating func take(_ bytes: some Sequence<UInt8>) -> [RemoteEventLine] {
        partial.append(contentsOf: bytes)
        guard let lastNewline = partial.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = partial[...lastNewline]
        partial = Array(partial[(lastNewline + 1)...])
        return complete.split(separator: UInt8(ascii: "\n")).compactMap { read(Data($0)) }
    }

    /// What is left without a newline when the stream ends.
    public mutating func finish() -> [RemoteEventLine] {
        defer { partial = [] }
        return partial.isEmpty ? [] : [read(Data(partial))].compactMap { $0 }
    }

    private func read(_ line: Data) -> RemoteEventLine? {
        let decoder = JSONDecoder()
        if var event = try? decoder.decode(LabEvent.self, from: line) {
            event.host = host
            return .event(event)
        }
        if (try? decoder.decode(FollowingAnnouncement.self, from: line)) != nil { return .started }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : .unreadable(text)
    }
}
