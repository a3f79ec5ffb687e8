import Foundation
import Netlink

/// What is pushed to the page, one JSON object per Server-Sent Event.
enum Message: Encodable {
    case hello(actions: Bool, labs: [LabView], counters: [String: [String: LinkCounters]])
    case lab(LabView)
    case labRemoved(String)
    case interface(lab: String, node: String, InterfaceView)
    case counters(lab: String, [String: LinkCounters])

    enum Keys: String, CodingKey { case type, actions, labs, counters, lab, node, interface }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .hello(let actions, let labs, let counters):
            try c.encode("hello", forKey: .type); try c.encode(actions, forKey: .actions)
            try c.encode(labs, forKey: .labs); try c.encode(counters, forKey: .counters)
        case .lab(let view):
            try c.encode("lab", forKey: .type); try c.encode(view, forKey: .lab)
        case .labRemoved(let name):
            try c.encode("lab-removed", forKey: .type); try c.encode(name, forKey: .lab)
        case .interface(let lab, let node, let interface):
            try c.encode("interface", forKey: .type); try c.encode(lab, forKey: .lab)
            try c.encode(node, forKey: .node); try c.encode(interface, forKey: .interface)
        case .counters(let lab, let counters):
            try c.encode("counters", forKey: .type); try c.encode(lab, forKey: .lab); try c.encode(counters, forKey: .counters)
        }
    }
}

/// One Server-Sent Events frame.
func frame(_ message: Message) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let json = (try? encoder.encode(message)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    return "data: \(json)\n\n"
}
