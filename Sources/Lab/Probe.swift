import CShims
import NetAddress
import Namespaces
import Netlink
#if canImport(Glibc)
import Glibc
#endif

// ICMP echo from inside a node, with nothing installed in the lab.
//
// Raw ICMP sockets (SOCK_RAW), not "ping sockets" (SOCK_DGRAM + IPPROTO_ICMP): a ping socket
// needs net.ipv4.ping_group_range to include our group inside the node, and changing a sysctl
// in the user's lab to run a check would alter what is being checked. nslab already needs root
// (CAP_SYS_ADMIN for setns), and a raw socket also receives the ICMP errors (time exceeded,
// unreachable) that trace needs, with the original header inside to match them to probes.
// Each socket gets its own echo identifier and ignores everything else, so several nslab
// runs, ping and traceroute can work in the same node at once.

/// What came back for one probe.
public enum ProbeReply: Sendable, Equatable {
    /// An echo reply: `from` is the address that answered, `ttl` the reply's remaining TTL.
    case echo(from: IPAddress, ttl: Int?, seconds: Double)
    /// ICMP time exceeded: the probe's TTL ran out at the router `from`.
    case timeExceeded(from: IPAddress, seconds: Double)
    /// ICMP destination unreachable from `from` (code as the kernel sent it).
    case unreachable(from: IPAddress, code: UInt8, seconds: Double)
    /// The kernel refused to send (errno): no route, no source address, …
    case notSent(errno: Int32)
    case timeout

    public var isEcho: Bool { if case .echo = self { return true } else { return false } }

    public var seconds: Double? {
        switch self {
        case .echo(_, _, let s), .timeExceeded(_, let s), .unreachable(_, _, let s): return s
        default: return nil
        }
    }

    public var responder: IPAddress? {
        switch self {
        case .echo(let from, _, _), .timeExceeded(let from, _), .unreachable(let from, _, _): return from
        default: return nil
        }
    }
}

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// A raw ICMP (or ICMPv6) socket that lives in the namespace of the thread that opened it.
final class ICMPSocket: @unchecked Sendable {
    let fd: Int32
    let family: IPAddress.Family
    let identifier: UInt16
    private var currentTTL: Int = -1

    /// A received ICMP message about one of this socket's probes.
    struct Message {
        enum Kind { case echoReply, timeExceeded, unreachable(code: UInt8) }
        var kind: Kind
        var sequence: UInt16
        var from: IPAddress
        var ttl: Int?
    }

    /// Opens the socket in the calling thread's namespace; `source` binds it (ping -I).
    init(family: IPAddress.Family, source: IPAddress? = nil) throws {
        self.family = family
        let isV4 = family == .ipv4
        let fd = socket(isV4 ? AF_INET : AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                        Int32(isV4 ? IPPROTO_ICMP : IPPROTO_ICMPV6))
        guard fd >= 0 else { throw SystemCallError("socket(SOCK_RAW, \(isV4 ? "ICMP" : "ICMPv6"))") }
        self.fd = fd
        identifier = UInt16.random(in: 1...UInt16.max)
        // Only what answers echo requests reaches us; the kernel drops the rest before queueing.
        if isV4 {
            var blocked: UInt32 = ~((1 << 0) | (1 << 3) | (1 << 11))  // echo reply, unreachable, time exceeded
            _ = setsockopt(fd, 255 /* SOL_RAW */, 1 /* ICMP_FILTER */, &blocked, socklen_t(4))
        } else {
            var filter = [UInt32](repeating: .max, count: 8)
            for type in [1, 3, 129] { filter[type >> 5] &= ~(UInt32(1) << UInt32(type & 31)) }
            _ = filter.withUnsafeMutableBytes { setsockopt(fd, Int32(IPPROTO_ICMPV6), 1 /* ICMP6_FILTER */, $0.baseAddress, socklen_t($0.count)) }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), 51 /* IPV6_RECVHOPLIMIT */, &one, socklen_t(4))
        }
        // Many replies may arrive while the sender is busy: room for thousands.
        var size: Int32 = 4 << 20
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(4)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(4))
        }
        if let source {
            var address = sockaddr_in6()
            let length = ICMPSocket.write(source, into: &address)
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            guard bound == 0 else {
                let error = SystemCallError("bind \(source)")
                close(fd)
                throw error
            }
        }
    }

    deinit { close(fd) }

    /// Opens one socket per family inside `namespace`, on a thread of its own.
    static func open(in namespace: NetworkNamespace, families: [IPAddress.Family], source: IPAddress? = nil) throws -> [ICMPSocket] {
        try namespace.run { try families.map { try ICMPSocket(family: $0, source: source) } }
    }

    /// The TTL (hop limit) of the next requests, set only when it changes.
    func setTTL(_ wanted: Int) {
        guard wanted != currentTTL else { return }
        var value = Int32(wanted)
        if family == .ipv4 {
            _ = setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &value, socklen_t(4))
        } else {
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, &value, socklen_t(4))
        }
        currentTTL = wanted
    }

    /// An echo request's header into the first 8 bytes of `packet` (the payload after it is
    /// left as it is); with its checksum for IPv4 (the kernel fills in ICMPv6 checksums on raw
    /// sockets, not ICMP ones).
    static func writeEchoRequest(into packet: UnsafeMutableRawBufferPointer, type: UInt8, identifier: UInt16, sequence: UInt16,
                                 checksummed: Bool) {
        packet[0] = type; packet[1] = 0; packet[2] = 0; packet[3] = 0
        packet[4] = UInt8(identifier >> 8); packet[5] = UInt8(identifier & 0xff)
        packet[6] = UInt8(sequence >> 8); packet[7] = UInt8(sequence & 0xff)
        if checksummed {
            let sum = internetChecksum(UnsafeRawBufferPointer(packet))
            packet[2] = UInt8(sum >> 8); packet[3] = UInt8(sum & 0xff)
        }
    }

    /// `address` as a sockaddr_in or sockaddr_in6 at `storage`; returns its length.
    static func write(_ address: IPAddress, into storage: UnsafeMutablePointer<sockaddr_in6>) -> socklen_t {
        switch address {
        case .v4(let value):
            return storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { raw in
                raw.pointee = sockaddr_in()
                raw.pointee.sin_family = sa_family_t(AF_INET)
                raw.pointee.sin_addr.s_addr = value.bigEndian
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
        case .v6(let hi, let lo):
            storage.pointee = sockaddr_in6()
            storage.pointee.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &storage.pointee.sin6_addr) { bytes in
                bytes.storeBytes(of: hi.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: lo.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }

    /// Sends one echo request; returns 0 or the errno the kernel refused it with.
    func send(to destination: IPAddress, sequence: UInt16, ttl: Int? = nil, payloadSize: Int = 56) -> Int32 {
        setTTL(ttl ?? 64)
        var packet = [UInt8](repeating: 0, count: 8)
        packet += (0..<payloadSize).map { UInt8(truncatingIfNeeded: $0 + 0x10) }
        packet.withUnsafeMutableBytes {
            ICMPSocket.writeEchoRequest(into: $0, type: family == .ipv4 ? 8 : 128, identifier: identifier, sequence: sequence,
                                        checksummed: family == .ipv4)
        }
        var address = sockaddr_in6()
        let length = ICMPSocket.write(destination, into: &address)
        let sent = retryingInterrupted {
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
                }
            }
        }
        return sent >= 0 ? 0 : errno
    }

    /// The next message about one of this socket's probes, or nil when none is queued.
    func receive(_ buffer: inout [UInt8], _ control: inout [UInt8]) -> Message? {
        while true {
            var from = sockaddr_in6()
            var vector = iovec()
            var controlLength = 0
            let count: Int = buffer.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { controlBytes in
                    withUnsafeMutablePointer(to: &from) { fromPointer in
                        vector.iov_base = data.baseAddress
                        vector.iov_len = data.count
                        return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                            var header = msghdr()
                            header.msg_name = UnsafeMutableRawPointer(fromPointer)
                            header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
                            header.msg_iov = vectorPointer
                            header.msg_iovlen = 1
                            header.msg_control = controlBytes.baseAddress
                            header.msg_controllen = controlBytes.count
                            let n = recvmsg(fd, &header, 0)
                            controlLength = Int(header.msg_controllen)
                            return n
                        }
                    }
                }
            }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            let message = buffer.withUnsafeBytes { packet in
                control.withUnsafeBytes { control in
                    parse(UnsafeRawBufferPointer(rebasing: packet[0..<count]), from: from,
                          control: UnsafeRawBufferPointer(rebasing: control[0..<min(controlLength, control.count)]))
                }
            }
            if let message { return message }
        }
    }

    /// A received datagram (`from`: its sender; `control`: its control messages) as a message
    /// about one of this socket's probes, or nil when it is about something else.
    func parse(_ packet: UnsafeRawBufferPointer, from: sockaddr_in6, control: UnsafeRawBufferPointer) -> Message? {
        ICMPSocket.parse(packet, family: family, identifier: identifier, from: from, control: control)
    }

    /// `parse` for a socket of `family` whose echo identifier is `identifier`.
    static func parse(_ packet: UnsafeRawBufferPointer, family: IPAddress.Family, identifier: UInt16, from: sockaddr_in6,
                      control: UnsafeRawBufferPointer) -> Message? {
        family == .ipv4 ? parseV4(packet, identifier: identifier) : parseV6(packet, identifier: identifier, from: from, control: control)
    }

    private static func parseV4(_ p: UnsafeRawBufferPointer, identifier: UInt16) -> Message? {
        guard p.count >= 20 else { return nil }
        let headerLength = Int(p[0] & 0x0f) * 4
        guard p.count >= headerLength + 8 else { return nil }
        let from = IPAddress.v4(UInt32(readU16(p, 12)) << 16 | UInt32(readU16(p, 14)))
        let icmp = headerLength
        switch p[icmp] {
        case 0:
            guard readU16(p, icmp + 4) == identifier else { return nil }
            return Message(kind: .echoReply, sequence: readU16(p, icmp + 6), from: from, ttl: Int(p[8]))
        case 3, 11:
            let inner = icmp + 8
            guard p.count >= inner + 20 else { return nil }
            let innerICMP = inner + Int(p[inner] & 0x0f) * 4
            guard p.count >= innerICMP + 8, p[inner + 9] == 1, p[innerICMP] == 8,
                  readU16(p, innerICMP + 4) == identifier else { return nil }
            let kind: Message.Kind = p[icmp] == 11 ? .timeExceeded : .unreachable(code: p[icmp + 1])
            return Message(kind: kind, sequence: readU16(p, innerICMP + 6), from: from, ttl: Int(p[8]))
        default:
            return nil
        }
    }

    private static func parseV6(_ p: UnsafeRawBufferPointer, identifier: UInt16, from: sockaddr_in6, control: UnsafeRawBufferPointer) -> Message? {
        guard p.count >= 8 else { return nil }
        var sender = from
        let source = withUnsafeBytes(of: &sender.sin6_addr) { bytes in
            IPAddress.v6(UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                         UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        let hopLimit = ICMPSocket.hopLimit(control)
        switch p[0] {
        case 129:
            guard readU16(p, 4) == identifier else { return nil }
            return Message(kind: .echoReply, sequence: readU16(p, 6), from: source, ttl: hopLimit)
        case 1, 3:
            // 8 bytes of ICMPv6 header, the 40-byte IPv6 header of our probe, then its echo header.
            guard p.count >= 8 + 40 + 8, p[8 + 6] == 58, p[48] == 128, readU16(p, 52) == identifier else { return nil }
            let kind: Message.Kind = p[0] == 3 ? .timeExceeded : .unreachable(code: p[1])
            return Message(kind: kind, sequence: readU16(p, 54), from: source, ttl: hopLimit)
        default:
            return nil
        }
    }

    /// IPV6_HOPLIMIT from the control messages (struct cmsghdr: size_t len, int level, int type).
    private static func hopLimit(_ control: UnsafeRawBufferPointer) -> Int? {
        var offset = 0
        while offset + 20 <= control.count {
            let cmsgLength = Int(control.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            let level = control.loadUnaligned(fromByteOffset: offset + 8, as: Int32.self)
            let type = control.loadUnaligned(fromByteOffset: offset + 12, as: Int32.self)
            if level == Int32(IPPROTO_IPV6), type == 52 /* IPV6_HOPLIMIT */ {
                return Int(control.loadUnaligned(fromByteOffset: offset + 16, as: Int32.self))
            }
            guard cmsgLength >= 16 else { return nil }
            offset += (cmsgLength + 7) & ~7
        }
        return nil
    }
}

private func readU16(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 { UInt16(p[offset]) << 8 | UInt16(p[offset + 1]) }

/// RFC 1071.
func internetChecksum(_ bytes: [UInt8]) -> UInt16 { bytes.withUnsafeBytes(internetChecksum) }

/// RFC 1071, over bytes in place.
func internetChecksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
    if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

