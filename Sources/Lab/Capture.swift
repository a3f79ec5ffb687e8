import CShims
import Foundation
import Namespaces
import NetAddress
import Netlink

/// One captured frame.
public struct CapturedPacket: Sendable {
    public var seconds: Int
    public var microseconds: Int
    public var outgoing: Bool
    /// The frame's length on the wire (more than `data.count` when truncated to the snap length).
    public var length: Int
    public var data: [UInt8]
}

/// `nslab capture`: an AF_PACKET socket opened inside the node (on a namespace thread of its
/// own, so no shared thread ever changes namespace), bound to one interface, both directions.
/// Timestamps are taken when nslab reads each frame (the system clock, microseconds), not by
/// the kernel on arrival: close, but not what tcpdump's kernel timestamps would say under load.
public final class PacketCapture: @unchecked Sendable {
    public static let snapLength = 65535
    let fd: Int32
    public let node: String
    public let interface: String

    /// `filter`: a tcpdump expression, compiled by `tcpdump -dd` (run inside the node, on the
    /// interface itself, so the link type is right) into a classic BPF program.
    public init(lab: String, node: String, interface: String, filter: String?) throws {
        let network = try LabNetwork.read(lab: lab)
        let namespace = try network.namespace(of: node)
        self.node = node
        self.interface = interface
        let program = try filter.map { try Self.compile($0, interface: interface, in: namespace) }
        fd = try namespace.run { () throws -> Int32 in
            guard let index = try NetlinkSocket().links().first(where: { $0.name == interface })?.index else {
                throw LabError.refused("node \(node) of lab \(lab) has no interface \(interface)")
            }
            // Protocol 0: the socket receives nothing until bound, so no frame slips in before
            // the filter is attached.
            let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw LabError.system(SystemCallError("socket(AF_PACKET)"), context: "capture on \(node):\(interface)") }
            do {
                if var program {
                    try program.withUnsafeMutableBufferPointer { buffer in
                        var fprog = sock_fprog(len: UInt16(buffer.count), filter: buffer.baseAddress)
                        guard setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, socklen_t(MemoryLayout<sock_fprog>.size)) == 0 else {
                            throw LabError.system(SystemCallError("setsockopt(SO_ATTACH_FILTER)"), context: "capture filter")
                        }
                    }
                }
                var address = sockaddr_ll()
                address.sll_family = UInt16(AF_PACKET)
                address.sll_protocol = UInt16(ETH_P_ALL).bigEndian
                address.sll_ifindex = index
                let bound = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_ll>.size)) }
                }
                guard bound == 0 else { throw LabError.system(SystemCallError("bind(AF_PACKET)"), context: "capture on \(node):\(interface)") }
                // Wake up four times a second to notice Ctrl-C (the handler restarts recv).
                var timeout = timeval(tv_sec: 0, tv_usec: 250_000)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                return fd
            } catch {
                close(fd)
                throw error
            }
        }
    }

    deinit { close(fd) }

    /// The next frame, or nil when `shouldStop` says so while waiting.
    public func next(shouldStop: () -> Bool) throws -> CapturedPacket? {
        var buffer = [UInt8](repeating: 0, count: Self.snapLength)
        var from = sockaddr_ll()
        var fromLength = socklen_t(MemoryLayout<sockaddr_ll>.size)
        while true {
            if shouldStop() { return nil }
            let received = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, raw.baseAddress, raw.count, Int32(MSG_TRUNC), $0, &fromLength)
                    }
                }
            }
            if received < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                throw LabError.system(SystemCallError("recvfrom(AF_PACKET)"), context: "capture on \(node):\(interface)")
            }
            var now = timeval()
            gettimeofday(&now, nil)
            return CapturedPacket(seconds: now.tv_sec, microseconds: Int(now.tv_usec),
                                  outgoing: from.sll_pkttype == UInt8(PACKET_OUTGOING), length: received,
                                  data: Array(buffer.prefix(min(received, Self.snapLength))))
        }
    }

    /// Runs `tcpdump -dd -i IFACE FILTER` inside the node and reads the program it prints,
    /// lines like `{ 0x28, 0, 0, 0x0000000c },`.
    static func compile(_ filter: String, interface: String, in namespace: NetworkNamespace) throws -> [sock_filter] {
        var fds: [Int32] = [-1, -1]
        guard nslab_pipe_cloexec(&fds) == 0 else { throw LabError.system(SystemCallError("pipe"), context: "capture filter") }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        let pid: pid_t
        do {
            pid = try Spawn.start(["tcpdump", "-dd", "-i", interface, filter], in: namespace,
                                  options: SpawnOptions(standardIO: (devNull, fds[1], fds[1])))
        } catch {
            close(fds[0]); close(fds[1])
            throw LabError.refused("the capture filter needs tcpdump to compile it (scripts/install-deps.sh installs it): \(error)")
        }
        close(fds[1])
        let output = readToEnd(fds[0]) ?? []
        close(fds[0])
        var status: Int32 = 0
        _ = retryingInterrupted { waitpid(pid, &status, 0) }
        let text = String(decoding: output, as: UTF8.self)
        guard status == 0 else {
            throw LabError.refused("tcpdump cannot compile the filter \"\(filter)\": \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let program = text.split(separator: "\n").compactMap { line -> sock_filter? in
            let fields = line.filter { !"{} ,".contains($0) || $0 == "," }.split(separator: ",").map(String.init)
            guard fields.count >= 4, let code = parse(fields[0]), let jt = parse(fields[1]), let jf = parse(fields[2]),
                  let k = parse(fields[3]) else { return nil }
            return sock_filter(code: UInt16(truncatingIfNeeded: code), jt: UInt8(truncatingIfNeeded: jt),
                               jf: UInt8(truncatingIfNeeded: jf), k: UInt32(truncatingIfNeeded: k))
        }
        guard !program.isEmpty else { throw LabError.refused("tcpdump printed no filter program for \"\(filter)\"") }
        return program
    }

    private static func parse(_ text: String) -> UInt64? {
        text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    }
}

/// A classic pcap file (magic 0xa1b2c3d4, microseconds, link type 1 Ethernet), as tcpdump -w
/// writes it. Every record is flushed at once, so the file is readable while capturing and
/// whole up to the last packet if nslab is killed.
public final class PcapWriter: @unchecked Sendable {
    let file: UnsafeMutablePointer<FILE>

    public init(path: String) throws {
        guard let file = fopen(path, "wb") else {
            throw LabError.system(SystemCallError("fopen"), context: "write \(path)")
        }
        self.file = file
        var header: [UInt8] = []
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        func put16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { header += $0 } }
        put32(0xa1b2_c3d4); put16(2); put16(4); put32(0); put32(0)
        put32(UInt32(PacketCapture.snapLength)); put32(1)
        try write(header)
    }

    public func append(_ packet: CapturedPacket) throws {
        var record: [UInt8] = []
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { record += $0 } }
        put32(UInt32(truncatingIfNeeded: packet.seconds)); put32(UInt32(packet.microseconds))
        put32(UInt32(packet.data.count)); put32(UInt32(packet.length))
        try write(record + packet.data)
    }

    private func write(_ bytes: [UInt8]) throws {
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count, fflush(file) == 0 else {
            throw LabError.system(SystemCallError("fwrite"), context: "write the capture file")
        }
    }

    deinit { fclose(file) }
}

/// One line per frame: ARP, IPv4 and IPv6 with ICMP echo, TCP and UDP ports; anything else by
/// its EtherType. Enough to follow a test, not a protocol analyser (use -w and tcpdump -r).
public enum PacketSummary {
    public static func line(_ packet: CapturedPacket) -> String {
        let time = Date(timeIntervalSince1970: TimeInterval(packet.seconds))
        var components = Calendar(identifier: .gregorian).dateComponents(in: TimeZone.current, from: time)
        components.nanosecond = 0
        let clock = String(format: "%02d:%02d:%02d.%06d", components.hour ?? 0, components.minute ?? 0,
                           components.second ?? 0, packet.microseconds)
        return "\(clock) \(packet.outgoing ? "out" : "in ") \(packet.length) \(describe(packet.data))"
    }

    static func describe(_ d: [UInt8]) -> String {
        guard d.count >= 14 else { return "runt frame" }
        let type = UInt16(d[12]) << 8 | UInt16(d[13])
        let p = Array(d[14...])
        switch type {
        case 0x0806:
            guard p.count >= 28 else { return "ARP (truncated)" }
            let op = UInt16(p[6]) << 8 | UInt16(p[7])
            let sender = p[14..<18].map(String.init).joined(separator: ".")
            let target = p[24..<28].map(String.init).joined(separator: ".")
            return op == 1 ? "ARP who-has \(target) tell \(sender)" : op == 2 ? "ARP reply \(sender) is-at \(mac(Array(p[8..<14])))" : "ARP op \(op)"
        case 0x0800:
            guard p.count >= 20 else { return "IPv4 (truncated)" }
            let headerLength = Int(p[0] & 0x0f) * 4
            let src = p[12..<16].map(String.init).joined(separator: ".")
            let dst = p[16..<20].map(String.init).joined(separator: ".")
            return "IPv4 \(src) > \(dst) " + transport(Int(p[9]), Array(p.dropFirst(headerLength)), v6: false)
        case 0x86dd:
            guard p.count >= 40 else { return "IPv6 (truncated)" }
            let src = IPAddress(bytes: p[8..<24]).map { "\($0)" } ?? "?", dst = IPAddress(bytes: p[24..<40]).map { "\($0)" } ?? "?"
            return "IPv6 \(src) > \(dst) " + transport(Int(p[6]), Array(p.dropFirst(40)), v6: true)
        default:
            return String(format: "ethertype 0x%04x", type)
        }
    }

    static func transport(_ proto: Int, _ t: [UInt8], v6: Bool) -> String {
        func u16(_ i: Int) -> Int { t.count > i + 1 ? Int(t[i]) << 8 | Int(t[i + 1]) : 0 }
        switch (proto, v6) {
        case (1, false), (58, true):
            guard t.count >= 8 else { return "ICMP (truncated)" }
            let name: String
            switch (t[0], v6) {
            case (8, false), (128, true): name = "echo request"
            case (0, false), (129, true): name = "echo reply"
            case (3, false), (1, true): name = "destination unreachable"
            case (11, false), (3, true): name = "time exceeded"
            case (135, true): name = "neighbor solicitation"
            case (136, true): name = "neighbor advertisement"
            case (133, true): name = "router solicitation"
            case (143, true): name = "multicast listener report v2"
            default: name = "type \(t[0])"
            }
            let echo = name.hasPrefix("echo") ? ", id \(u16(4)), seq \(u16(6))" : ""
            return "\(v6 ? "ICMP6" : "ICMP") \(name)\(echo)"
        case (6, _): return "TCP \(u16(0)) > \(u16(2))"
        case (17, _): return "UDP \(u16(0)) > \(u16(2))"
        case (0, true): return "hop-by-hop options"
        default: return "proto \(proto)"
        }
    }

    static func mac(_ bytes: [UInt8]) -> String { formatMAC(bytes) }
}
