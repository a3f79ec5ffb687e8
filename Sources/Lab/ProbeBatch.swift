import CShims
import NetAddress
#if canImport(Glibc)
import Glibc
#endif

/// Many probes sent, and many replies read, in one system call each (sendmmsg, recvmmsg).
///
/// A 1,000-leaf star's verify is two million echo requests; with one sendto and one recvmsg per
/// probe (and a recvmsg more per socket per round to learn the queue is empty) the system call
/// entries and exits alone were ~6 million. The buffers are allocated once per probing thread and
/// reused for every socket: the kernel has copied them by the time the call returns.
final class ProbeBatch {
    /// Probes per sendmmsg, replies per recvmmsg.
    let capacity: Int
    /// Bytes of ICMP header and payload of each request.
    let packetSize: Int
    /// Room per received datagram: the IPv4 header (with options, at most 60), the ICMP error
    /// header, the probe's IP header and its echo header fit in 256; the payload is never read,
    /// so a longer datagram (someone else's ping) may be cut (MSG_TRUNC).
    static let receiveSize = 256
    static let controlSize = 64

    private let packets: UnsafeMutableRawBufferPointer
    private let sendAddresses: UnsafeMutablePointer<sockaddr_in6>
    private let sendVectors: UnsafeMutablePointer<iovec>
    private let sendHeaders: UnsafeMutablePointer<nslab_mmsghdr>
    private let received: UnsafeMutableRawBufferPointer
    private let controls: UnsafeMutableRawBufferPointer
    private let receiveAddresses: UnsafeMutablePointer<sockaddr_in6>
    private let receiveVectors: UnsafeMutablePointer<iovec>
    private let receiveHeaders: UnsafeMutablePointer<nslab_mmsghdr>

    init(capacity: Int = 64, payloadSize: Int = 16) {
        self.capacity = capacity
        packetSize = 8 + payloadSize
        packets = .allocate(byteCount: capacity * packetSize, alignment: 8)
        for slot in 0..<capacity {
            for i in 0..<payloadSize { packets[slot * packetSize + 8 + i] = UInt8(truncatingIfNeeded: i + 0x10) }
        }
        sendAddresses = .allocate(capacity: capacity)
        sendVectors = .allocate(capacity: capacity)
        sendHeaders = .allocate(capacity: capacity)
        received = .allocate(byteCount: capacity * Self.receiveSize, alignment: 8)
        controls = .allocate(byteCount: capacity * Self.controlSize, alignment: 8)
        receiveAddresses = .allocate(capacity: capacity)
        receiveVectors = .allocate(capacity: capacity)
        receiveHeaders = .allocate(capacity: capacity)
    }

    deinit {
        packets.deallocate(); sendAddresses.deallocate(); sendVectors.deallocate(); sendHeaders.deallocate()
        received.deallocate(); controls.deallocate(); receiveAddresses.deallocate(); receiveVectors.deallocate()
        receiveHeaders.deallocate()
    }

    /// Sends echo requests to `probes` (at most `capacity`), all with `ttl`. Returns how many
    /// the kernel took, in order, and when it took none, the errno it refused the first with.
    func send(_ probes: [(destination: IPAddress, sequence: UInt16)], from socket: ICMPSocket, ttl: Int?) -> (sent: Int, error: Int32) {
        precondition(probes.count <= capacity)
        guard !probes.isEmpty else { return (0, 0) }
        socket.setTTL(ttl ?? 64)
        let requestType: UInt8 = socket.family == .ipv4 ? 8 : 128
        for (slot, probe) in probes.enumerated() {
            let packet = UnsafeMutableRawBufferPointer(rebasing: packets[slot * packetSize..<(slot + 1) * packetSize])
            ICMPSocket.writeEchoRequest(into: packet, type: requestType, identifier: socket.identifier, sequence: probe.sequence,
                                        checksummed: socket.family == .ipv4)
            let addressLength = ICMPSocket.write(probe.destination, into: sendAddresses + slot)
            sendVectors[slot] = iovec(iov_base: packet.baseAddress, iov_len: packetSize)
            var header = msghdr()
            header.msg_name = UnsafeMutableRawPointer(sendAddresses + slot)
            header.msg_namelen = addressLength
            header.msg_iov = sendVectors + slot
            header.msg_iovlen = 1
            sendHeaders[slot] = nslab_mmsghdr(msg_hdr: header, msg_len: 0)
        }
        while true {
            let sent = nslab_sendmmsg(socket.fd, sendHeaders, UInt32(probes.count), 0)
            if sent >= 0 { return (Int(sent), 0) }
            if errno != EINTR { return (0, errno) }
        }
    }

    /// Reads the replies queued on `socket`, up to `capacity`, giving each message about one
    /// of its probes to `body`. Returns how many datagrams were read: 0 when none was queued.
    func receive(from socket: ICMPSocket, _ body: (ICMPSocket.Message) -> Void) -> Int {
        for slot in 0..<capacity {
            receiveVectors[slot] = iovec(iov_base: received.baseAddress! + slot * Self.receiveSize, iov_len: Self.receiveSize)
            var header = msghdr()
            header.msg_name = UnsafeMutableRawPointer(receiveAddresses + slot)
            header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
            header.msg_iov = receiveVectors + slot
            header.msg_iovlen = 1
            header.msg_control = controls.baseAddress! + slot * Self.controlSize
            header.msg_controllen = Self.controlSize
            receiveHeaders[slot] = nslab_mmsghdr(msg_hdr: header, msg_len: 0)
        }
        var count: Int32
        repeat {
            count = nslab_recvmmsg(socket.fd, receiveHeaders, UInt32(capacity), Int32(MSG_DONTWAIT))
        } while count < 0 && errno == EINTR
        guard count > 0 else { return 0 }
        for slot in 0..<Int(count) {
            let length = min(Int(receiveHeaders[slot].msg_len), Self.receiveSize)
            let packet = UnsafeRawBufferPointer(start: received.baseAddress! + slot * Self.receiveSize, count: length)
            let control = UnsafeRawBufferPointer(start: controls.baseAddress! + slot * Self.controlSize,
                                                 count: min(Int(receiveHeaders[slot].msg_hdr.msg_controllen), Self.controlSize))
            if let message = socket.parse(packet, from: receiveAddresses[slot], control: control) { body(message) }
        }
        return Int(count)
    }
}
