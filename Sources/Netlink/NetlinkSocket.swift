import CShims
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A NETLINK_ROUTE socket. It belongs to the network namespace of the thread that opened it, for
/// life, so a socket per namespace opened on a switched thread can then be used from anywhere.
public final class NetlinkSocket: @unchecked Sendable {
    public let fd: Int32
    private let state: Mutex<State>
    /// For views that only show the kernel's state (inspect, verify): a dump still interrupted
    /// after every attempt is returned as read rather than refused. Measured on a 9,999-node star
    /// right after deploy: one namespace's address dump was interrupted 16 times in a row over
    /// 4 s (separate IPv4 and IPv6 dumps, duplicate address detection on or off), and the whole
    /// verify failed for it. Converge, which acts on what it reads, keeps refusing.
    public let acceptsInterruptedDumps: Bool

    private struct State: ~Copyable {
        var sequence: UInt32
        /// The receive buffer, only while a request is being answered: a lab keeps a socket per
        /// node, and 64 KiB each was 64 MiB of a 1,000-node deploy.
        var buffer: [UInt8]

        mutating func borrowBuffer() {
            if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: 1 << 16) }
        }
    }

    /// How many requests may wait for their ACK at once. Every ACK is its own skb in the receive
    /// buffer; the window keeps them well inside it.
    static let window = 256
    static let receiveBufferSize: Int32 = 4 << 20

    /// Opens a socket in the calling thread's network namespace.
    public init(acceptingInterruptedDumps: Bool = false) throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        guard fd >= 0 else { throw SystemCallError("socket(AF_NETLINK)") }
        do {
            try NetlinkSocket.configure(fd)
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        acceptsInterruptedDumps = acceptingInterruptedDumps
        // Random start so replies to an earlier process using the same port cannot match.
        self.state = Mutex(State(sequence: UInt32.random(in: 1...0x3fff_ffff), buffer: []))
    }

    deinit { close(fd) }

    /// Extended ACKs, a large receive buffer, bound to the kernel: what every rtnetlink socket of
    /// nslab needs (requests here, multicast subscriptions in Events.swift).
    static func configure(_ fd: Int32) throws {
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        // Extended ACK: the kernel explains refusals. CAP_ACK: ACKs do not echo our request.
        _ = setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, size)
        _ = setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, size)
        _ = setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, size)
        var rcvbuf = receiveBufferSize
        // FORCE needs CAP_NET_ADMIN; without it the ordinary limit still works, only smaller.
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, size) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, size)
        }
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
            }
        }
        guard bound == 0 else { throw SystemCallError("bind(netlink)") }
    }

    /// Sends one request and waits for its ACK.
    public func execute(_ message: NetlinkMessage) throws {
        try execute([message])
    }

    /// Sends requests back to back and collects their ACKs, many in flight at once: the kernel
    /// handles each in order as it arrives, so a batch costs a few system calls instead of two
    /// per request. Every request is attempted; the first refusal (in request order) is thrown.
    public func execute(_ messages: [NetlinkMessage]) throws {
        if messages.isEmpty { return }
        try state.withLock { state in
            state.borrowBuffer()
            defer { state.buffer = [] }
            var firstFailure: (index: Int, error: NetlinkError)?
            var start = 0
            while start < messages.count {
                let end = min(start + NetlinkSocket.window, messages.count)
                let base = state.sequence
                state.sequence &+= UInt32(end - start)
                var datagram: [UInt8] = []
                for i in start..<end {
                    var message = messages[i]
                    message.flags |= UInt16(NLM_F_REQUEST | NLM_F_ACK)
                    let encoded = message.encoded(sequence: base &+ UInt32(i - start))
                    if datagram.count + encoded.count > 1 << 15 {
                        try send(datagram)
                        datagram.removeAll(keepingCapacity: true)
                    }
                    datagram += encoded
                }
                try send(datagram)
                var pending = Set((0..<(end - start)).map { base &+ UInt32($0) })
                while !pending.isEmpty {
                    for reply in try receive(&state.buffer) where reply.type == UInt16(NLMSG_ERROR) {
                        guard pending.remove(reply.sequence) != nil else { continue }
                        let index = start + Int(reply.sequence &- base)
                        if let error = try NetlinkSocket.failure(in: reply, request: messages[index].summary),
                           firstFailure == nil || index < firstFailure!.index {
                            firstFailure = (index, error)
                        }
                    }
                }
                start = end
            }
            if let firstFailure { throw firstFailure.error }
        }
    }

    /// Sends one request that the kernel answers with messages (a get that is not a dump) and
    /// returns them, once its ACK has come.
    public func get(_ message: NetlinkMessage) throws -> [ReceivedMessage] {
        try state.withLock { state in
            state.borrowBuffer()
            defer { state.buffer = [] }
            let sequence = try send(message, adding: NLM_F_ACK, &state)
            var collected: [ReceivedMessage] = []
            while true {
                for reply in try receive(&state.buffer) where reply.sequence == sequence {
                    guard reply.type == UInt16(NLMSG_ERROR) else {
                        collected.append(reply)
                        continue
                    }
                    if let error = try NetlinkSocket.failure(in: reply, request: message.summary) { throw error }
                    return collected
                }
            }
        }
    }

    /// Runs a dump request and returns every message of the answer. A dump that the kernel marks
    /// as interrupted (the table changed while it was read) is started again, after a pause that
    /// doubles each time (1 ms to 0.5 s, about 4 s in all): a 10,000-leaf star's hub, whose
    /// 20,000 addresses take many reads, had its address dump interrupted 8 times in a row while
    /// the kernel was still finishing its link-local addresses' duplicate address detection.
    public func dump(_ message: NetlinkMessage, attempts: Int = 16) throws -> [ReceivedMessage] {
        try state.withLock { state in
            state.borrowBuffer()
            defer { state.buffer = [] }
            for attempt in 0..<attempts {
                if attempt > 0 { usleep(useconds_t(min(1_000 << (attempt - 1), 500_000))) }
                let sequence = try send(message, adding: NLM_F_DUMP, &state)
                var collected: [ReceivedMessage] = []
                var interrupted = false
                receiving: while true {
                    for reply in try receive(&state.buffer) where reply.sequence == sequence {
                        if reply.flags & UInt16(NLM_F_DUMP_INTR) != 0 { interrupted = true }
                        switch Int32(reply.type) {
                        case NLMSG_DONE:
                            break receiving
                        case NLMSG_ERROR:
                            if let error = try NetlinkSocket.failure(in: reply, request: message.summary) { throw error }
                        default:
                            collected.append(reply)
                        }
                    }
                }
                if !interrupted { return collected }
                if attempt == attempts - 1, acceptsInterruptedDumps { return collected }
            }
            throw NetlinkError(code: EINTR, kernelMessage: "dump kept changing while it was read",
                               request: message.summary)
        }
    }

    private func send(_ bytes: [UInt8]) throws { try NetlinkSocket.send(bytes, on: fd) }

    /// Sends one request with NLM_F_REQUEST and `flags` under the next sequence number, which
    /// it returns for matching the replies.
    private func send(_ message: NetlinkMessage, adding flags: Int32, _ state: inout State) throws -> UInt32 {
        let sequence = state.sequence
        state.sequence &+= 1
        var request = message
        request.flags |= UInt16(NLM_F_REQUEST | flags)
        try send(request.encoded(sequence: sequence))
        return sequence
    }

    /// One datagram to the kernel, retried when a signal interrupts it.
    static func send(_ bytes: [UInt8], on fd: Int32) throws {
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let sent = retryingInterrupted {
            bytes.withUnsafeBytes { raw in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
        }
        if sent < 0 { throw SystemCallError("send(netlink)") }
    }

    private func receive(_ buffer: inout [UInt8]) throws -> [ReceivedMessage] {
        let count = retryingInterrupted { buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } }
        guard count >= 0 else { throw SystemCallError("recv(netlink)") }
        return try ReceivedMessage.parse(buffer[0..<count])
    }

    /// The error an NLMSG_ERROR reply carries, or nil for an ACK.
    static func failure(in reply: ReceivedMessage, request: String) throws -> NetlinkError? {
        // Not decode(): without NLM_F_CAPPED what follows nlmsgerr is the echoed request, not attributes.
        var reader = ByteReader(reply.payload)
        let header = try ErrorMessage(reader: &reader)
        guard header.error != 0 else { return nil }
        var text: String?
        if reply.flags & UInt16(NLM_F_ACK_TLVS) != 0 {
            // With NLM_F_CAPPED the TLVs follow the echoed header; otherwise the whole request.
            var offset = ErrorMessage.size
            if reply.flags & UInt16(NLM_F_CAPPED) == 0 { offset = 4 + netlinkAlign(Int(header.requestLength)) }
            let start = reply.payload.startIndex + offset
            if start <= reply.payload.endIndex,
               let tlvs = try? Attributes(parsing: reply.payload[start...]),
               let message = tlvs[NLMSGERR_ATTR_MSG.rawValue] {
                text = message.string
            }
        }
        return NetlinkError(code: -header.error, kernelMessage: text, request: request)
    }
}
