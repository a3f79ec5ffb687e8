import CShims

/// struct tcmsg (20 bytes): the family header of every traffic-control message.
public struct TcMessage: NetlinkHeader, Equatable {
    public static let size = 20
    public var family: UInt8 = 0
    public var index: Int32
    public var handle: UInt32
    public var parent: UInt32
    public var info: UInt32 = 0

    public init(index: Int32, handle: UInt32 = 0, parent: UInt32 = 0) {
        self.index = index; self.handle = handle; self.parent = parent
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.append(family); w.append(UInt8(0)); w.append(UInt16(0))
        w.append(index); w.append(handle); w.append(parent); w.append(info)
        return w.bytes
    }

    public init(reader r: inout ByteReader) throws {
        family = try r.read(UInt8.self, "tcm_family"); try r.skip(3)
        index = try r.read(Int32.self, "tcm_ifindex"); handle = try r.read(UInt32.self, "tcm_handle")
        parent = try r.read(UInt32.self, "tcm_parent"); info = try r.read(UInt32.self, "tcm_info")
    }
}

/// The root of an interface's egress: TC_H_ROOT. Spelled out because the C macro does not import.
public let rootQdiscParent: UInt32 = 0xFFFF_FFFF

/// netem's parameters in the kernel's own units: times in nanoseconds, probabilities scaled to
/// 0…UInt32.max (as tc's get_percent does), rate in bytes per second.
public struct NetemOptions: Sendable, Equatable {
    public var latency: UInt64 = 0
    public var jitter: UInt64 = 0
    /// In packets; netem's default is 1000.
    public var limit: UInt32 = 1000
    public var loss: UInt32 = 0
    public var gap: UInt32 = 0
    public var duplicate: UInt32 = 0
    public var delayCorrelation: UInt32 = 0
    public var lossCorrelation: UInt32 = 0
    public var duplicateCorrelation: UInt32 = 0
    public var reorder: UInt32 = 0
    public var reorderCorrelation: UInt32 = 0
    public var corrupt: UInt32 = 0
    public var corruptCorrelation: UInt32 = 0
    /// Bytes per second; 0 for no limit.
    public var rate: UInt64 = 0
    /// The delay distribution table (TCA_NETEM_DELAY_DIST), as iproute2's *.dist files hold it.
    /// Only sent; the kernel does not report it back.
    public var distribution: [Int16]?

    public init() {}
}

/// tbf's parameters: used when only a rate (and queue) is asked for, and on kernels without netem.
public struct TokenBucketOptions: Sendable, Equatable {
    /// Bytes per second.
    public var rate: UInt64
    /// Bytes that may be sent at once.
    public var burst: UInt32
    /// Bytes queued before dropping.
    public var limit: UInt32

    public init(rate: UInt64, burst: UInt32, limit: UInt32) {
        self.rate = rate; self.burst = burst; self.limit = limit
    }
}

/// A root qdisc as the kernel reports it.
public struct QdiscInfo: Sendable, Equatable {
    public var index: Int32
    public var kind: String
    public var parent: UInt32
    public var netem: NetemOptions?
    public var tokenBucket: TokenBucketOptions?

    public init(_ message: ReceivedMessage) throws {
        let (header, attributes) = try message.decode(TcMessage.self)
        index = header.index
        parent = header.parent
        kind = attributes[TCA_KIND]?.string ?? ""
        if let options = attributes[TCA_OPTIONS] {
            if kind == "netem" { netem = try NetemOptions(decoding: options.payload) }
            if kind == "tbf" { tokenBucket = try TokenBucketOptions(decoding: try options.nested()) }
        }
    }
}

/// PSCHED ticks are 64 ns (PSCHED_SHIFT 6): the unit of tc_netem_qopt's latency and jitter and
/// of tbf's buffer.
@inline(__always) func ticks(_ nanoseconds: UInt64) -> UInt32 { UInt32(clamping: nanoseconds >> 6) }

extension NetemOptions {
    /// TCA_OPTIONS for netem: struct tc_netem_qopt, then nested TCA_NETEM_* attributes, in the
    /// order iproute2's q_netem.c writes them, so the bytes compare equal with `tc`'s.
    func encode(into a: inout AttributeWriter) {
        a.out.append(ticks(latency)); a.out.append(limit); a.out.append(loss)
        a.out.append(reorder != 0 && gap == 0 ? 1 : gap)  // tc: reordering needs a gap, 1 by default
        a.out.append(duplicate); a.out.append(ticks(jitter))
        // 64-bit times only when 32-bit ticks cannot hold them, as tc does.
        if latency >> 6 > UInt64(UInt32.max) {
            a.put(TCA_NETEM_LATENCY64, bytes: le64(latency))
        }
        if jitter >> 6 > UInt64(UInt32.max) { a.put(TCA_NETEM_JITTER64, bytes: le64(jitter)) }
        if delayCorrelation != 0 || lossCorrelation != 0 || duplicateCorrelation != 0 {
            var w = ByteWriter(); w.append(delayCorrelation); w.append(lossCorrelation); w.append(duplicateCorrelation)
            a.put(TCA_NETEM_CORR, bytes: w.bytes)
        }
        if reorder != 0 {
            var w = ByteWriter(); w.append(reorder); w.append(reorderCorrelation)
            a.put(TCA_NETEM_REORDER, bytes: w.bytes)
        }
        if corrupt != 0 {
            var w = ByteWriter(); w.append(corrupt); w.append(corruptCorrelation)
            a.put(TCA_NETEM_CORRUPT, bytes: w.bytes)
        }
        if rate != 0 {
            // struct tc_netem_rate: rate (u32), packet_overhead, cell_size, cell_overhead; faster
            // rates go in TCA_NETEM_RATE64 with the u32 saturated, as tc does.
            var w = ByteWriter(); w.append(UInt32(clamping: rate)); w.append(Int32(0)); w.append(UInt32(0)); w.append(Int32(0))
            a.put(TCA_NETEM_RATE, bytes: w.bytes)
            if rate >= UInt64(UInt32.max) { a.put(TCA_NETEM_RATE64, bytes: le64(rate)) }
        }
        // After the rate, as q_netem.c sends it.
        if let distribution, !distribution.isEmpty {
            var w = ByteWriter(); distribution.forEach { w.append($0) }
            a.put(TCA_NETEM_DELAY_DIST, bytes: w.bytes)
        }
    }

    init(decoding payload: ArraySlice<UInt8>) throws {
        var r = ByteReader(payload)
        latency = UInt64(try r.read(UInt32.self, "tc_netem_qopt.latency")) << 6
        limit = try r.read(UInt32.self, "tc_netem_qopt.limit")
        loss = try r.read(UInt32.self, "tc_netem_qopt.loss")
        gap = try r.read(UInt32.self, "tc_netem_qopt.gap")
        duplicate = try r.read(UInt32.self, "tc_netem_qopt.duplicate")
        jitter = UInt64(try r.read(UInt32.self, "tc_netem_qopt.jitter")) << 6
        let attributes = try Attributes(parsing: r.rest())
        if let value = attributes[TCA_NETEM_LATENCY64]?.u64 { latency = value }
        if let value = attributes[TCA_NETEM_JITTER64]?.u64 { jitter = value }
        if let corr = attributes[TCA_NETEM_CORR] {
            var c = ByteReader(corr.payload)
            delayCorrelation = try c.read(UInt32.self); lossCorrelation = try c.read(UInt32.self)
            duplicateCorrelation = try c.read(UInt32.self)
        }
        if let value = attributes[TCA_NETEM_REORDER] {
            var c = ByteReader(value.payload)
            reorder = try c.read(UInt32.self); reorderCorrelation = try c.read(UInt32.self)
        }
        if let value = attributes[TCA_NETEM_CORRUPT] {
            var c = ByteReader(value.payload)
            corrupt = try c.read(UInt32.self); corruptCorrelation = try c.read(UInt32.self)
        }
        if let value = attributes[TCA_NETEM_RATE] {
            var c = ByteReader(value.payload)
            rate = UInt64(try c.read(UInt32.self))
        }
        if let value = attributes[TCA_NETEM_RATE64]?.u64 { rate = value }
        // The kernel reports a gap of 1 it was given only for reordering; hide it again.
        if reorder != 0 && gap == 1 { gap = 0 }
    }
}

extension TokenBucketOptions {
    func encode(into a: inout AttributeWriter) {
        a.nest(TCA_OPTIONS) { o in
            // struct tc_tbf_qopt: rate and peakrate (struct tc_ratespec), limit, buffer, mtu.
            // linklayer ethernet (1) tells the kernel to compute its own rate table, so no
            // TCA_TBF_RTAB is needed; cell_log 3 and cell_align -1 are what tc sends.
            var w = ByteWriter()
            w.append(UInt8(3)); w.append(UInt8(1)); w.append(UInt16(0)); w.append(Int16(-1)); w.append(UInt16(0))
            w.append(UInt32(clamping: rate))
            w.append(contentsOf: [UInt8](repeating: 0, count: 12))
            w.append(limit)
            w.append(ticks(UInt64(burst) * 1_000_000_000 / max(rate, 1)))
            w.append(UInt32(0))
            o.put(TCA_TBF_PARMS, bytes: w.bytes)
            if rate >= UInt64(UInt32.max) { o.put(TCA_TBF_RATE64, bytes: le64(rate)) }
            o.put(TCA_TBF_BURST, u32: burst)
        }
    }

    init(decoding attributes: Attributes) throws {
        guard let parms = attributes[TCA_TBF_PARMS] else {
            throw NetlinkDecodeError.truncated(what: "TCA_TBF_PARMS", need: 36, have: 0)
        }
        var r = ByteReader(parms.payload)
        try r.skip(8)
        rate = UInt64(try r.read(UInt32.self, "tc_tbf_qopt.rate"))
        try r.skip(12)
        limit = try r.read(UInt32.self, "tc_tbf_qopt.limit")
        let buffer = UInt64(try r.read(UInt32.self, "tc_tbf_qopt.buffer")) << 6
        if let value = attributes[TCA_TBF_RATE64]?.u64 { rate = value }
        burst = UInt32(clamping: buffer * rate / 1_000_000_000)
    }
}

extension ByteWriter {
    mutating func append(contentsOf raw: [UInt8]) { bytes.append(contentsOf: raw) }
}

func le64(_ value: UInt64) -> [UInt8] {
    var w = ByteWriter(); w.append(value); return w.bytes
}

/// Requests about an interface's root qdisc, as `tc qdisc` sends them.
public enum QdiscRequest {
    /// `tc qdisc replace dev IFACE root netem …`: creates it, or changes the one there.
    public static func replaceNetem(index: Int32, name: String, _ options: NetemOptions) -> NetlinkMessage {
        NetlinkMessage(type: RTM_NEWQDISC, flags: NLM_F_CREATE | NLM_F_REPLACE,
                       header: TcMessage(index: index, parent: rootQdiscParent),
                       summary: "set netem on \(name)") { a in
            a.put(TCA_KIND, string: "netem")
            // Not a nest in the kernel's sense: tc_netem_qopt comes first and the attributes follow.
            let start = a.out.bytes.count
            a.out.append(UInt16(0)); a.out.append(UInt16(TCA_OPTIONS))
            options.encode(into: &a)
            a.out.patch(UInt16(a.out.bytes.count - start), at: start)
            a.out.pad()
        }
    }

    /// `tc qdisc replace dev IFACE root tbf rate R burst B limit L`.
    public static func replaceTokenBucket(index: Int32, name: String, _ options: TokenBucketOptions) -> NetlinkMessage {
        NetlinkMessage(type: RTM_NEWQDISC, flags: NLM_F_CREATE | NLM_F_REPLACE,
                       header: TcMessage(index: index, parent: rootQdiscParent),
                       summary: "set rate limit on \(name)") { a in
            a.put(TCA_KIND, string: "tbf")
            options.encode(into: &a)
        }
    }

    /// `tc qdisc del dev IFACE root`: back to the device's default qdisc.
    public static func deleteRoot(index: Int32, name: String) -> NetlinkMessage {
        NetlinkMessage(type: RTM_DELQDISC, flags: 0, header: TcMessage(index: index, parent: rootQdiscParent),
                       summary: "remove the impairment of \(name)")
    }

    /// `tc qdisc show`: every qdisc of the socket's namespace.
    public static func dump() -> NetlinkMessage {
        NetlinkMessage(type: RTM_GETQDISC, flags: 0, header: TcMessage(index: 0), summary: "list qdiscs")
    }
}

extension NetlinkSocket {
    /// Root qdiscs only: those are the ones nslab sets.
    public func rootQdiscs() throws -> [QdiscInfo] {
        try dump(QdiscRequest.dump()).filter { $0.type == UInt16(RTM_NEWQDISC) }.map(QdiscInfo.init)
            .filter { $0.parent == rootQdiscParent }
    }
}
