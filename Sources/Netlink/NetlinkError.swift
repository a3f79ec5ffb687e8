import CShims
#if canImport(Glibc)
import Glibc
#endif

/// A request the kernel refused. `kernelMessage` is the extended-ACK text ("ipv4: Device not
/// found") when the kernel gave one; it usually says more than the errno alone.
public struct NetlinkError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let kernelMessage: String?
    public let request: String

    public init(code: Int32, kernelMessage: String? = nil, request: String) {
        self.code = code
        self.kernelMessage = kernelMessage
        self.request = request
    }

    public var reason: String { String(cString: strerror(code)) }

    public var description: String {
        var text = "\(request): \(reason)"
        if let kernelMessage, !kernelMessage.isEmpty { text += " (kernel: \(kernelMessage))" }
        if let cause = ResourceErrors.explanation(of: code) { text += " (\(cause))" }
        return text
    }
}

/// A system call that failed outside the netlink protocol itself (socket, bind, send, recv).
public struct SystemCallError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let code: Int32

    public init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    public var description: String {
        "\(call): \(String(cString: strerror(code)))" + (ResourceErrors.explanation(of: code).map { " (\($0))" } ?? "")
    }
}
