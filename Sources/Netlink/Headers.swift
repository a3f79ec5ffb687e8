import CShims

/// struct ifinfomsg (16 bytes).
public struct IfInfoMessage: NetlinkHeader, Equatable {
    public static let size = 16
    public var family: UInt8 = 0
    public var type: UInt16 = 0
    public var index: Int32 = 0
    public var flags: UInt32 = 0
    public var change: UInt32 = 0

    public init(family: UInt8 = 0, type: UInt16 = 0, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        self.family = family; self.type = type; self.index = index; self.flags = flags; self.change = change
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.append(family); w.append(UInt8(0)); w.append(type); w.append(index); w.append(flags); w.append(change)
        return w.bytes
    }

    public init(reader r: inout ByteReader) throws {
        family = try r.read(UInt8.self, "ifi_family"); try r.skip(1)
        type = try r.read(UInt16.self, "ifi_type"); index = try r.read(Int32.self, "ifi_index")
        flags = try r.read(UInt32.self, "ifi_flags"); change = try r.read(UInt32.self, "ifi_change")
    }
}

/// struct ifaddrmsg (8 bytes).
public struct IfAddrMessage: NetlinkHeader, Equatable {
    public static let size = 8
    public var family: UInt8
    public var prefixLength: UInt8
    public var flags: UInt8
    public var scope: UInt8
    public var index: UInt32

    public init(family: UInt8, prefixLength: UInt8 = 0, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32 = 0) {
        self.family = family; self.prefixLength = prefixLength; self.flags = flags; self.scope = scope; self.index = index
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.append(family); w.append(prefixLength); w.append(flags); w.append(scope); w.append(index)
        return w.bytes
    }

    public init(reader r: inout ByteReader) throws {
        family = try r.read(UInt8.self, "ifa_family"); prefixLength = try r.read(UInt8.self, "ifa_prefixlen")
        flags = try r.read(UInt8.self, "ifa_flags"); scope = try r.read(UInt8.self, "ifa_scope")
        index = try r.read(UInt32.self, "ifa_index")
    }
}

/// struct rtmsg (12 bytes).
public struct RouteMessage: NetlinkHeader, Equatable {
    public static let size = 12
    public var family: UInt8
    public var destinationLength: UInt8 = 0
    public var sourceLength: UInt8 = 0
    public var tos: UInt8 = 0
    public var table: UInt8 = 0
    public var protocolID: UInt8 = 0
    public var scope: UInt8 = 0
    public var type: UInt8 = 0
    public var flags: UInt32 = 0

    public init(family: UInt8, destinationLength: UInt8 = 0, table: UInt8 = 0, protocolID: UInt8 = 0,
                scope: UInt8 = 0, type: UInt8 = 0) {
        self.family = family; self.destinationLength = destinationLength; self.table = table
        self.protocolID = protocolID; self.scope = scope; self.type = type
    }

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.append(family); w.append(destinationLength); w.append(sourceLength); w.append(tos)
        w.append(table); w.append(protocolID); w.append(scope); w.append(type); w.append(flags)
        return w.bytes
    }

    public init(reader r: inout ByteReader) throws {
        family = try r.read(UInt8.self, "rtm_family"); destinationLength = try r.read(UInt8.self, "rtm_dst_len")
        sourceLength = try r.read(UInt8.self, "rtm_src_len"); tos = try r.read(UInt8.self, "rtm_tos")
        table = try r.read(UInt8.self, "rtm_table"); protocolID = try r.read(UInt8.self, "rtm_protocol")
        scope = try r.read(UInt8.self, "rtm_scope"); type = try r.read(UInt8.self, "rtm_type")
        flags = try r.read(UInt32.self, "rtm_flags")
    }
}

/// struct rtgenmsg, padded to 4 bytes as the kernel reads it for dump requests.
public struct GenericMessage: NetlinkHeader, Equatable {
    public static let size = 4
    public var family: UInt8

    public init(family: UInt8) { self.family = family }

    public func encoded() -> [UInt8] { [family, 0, 0, 0] }

    public init(reader r: inout ByteReader) throws {
        family = try r.read(UInt8.self, "rtgen_family"); try r.skip(3)
    }
}

/// struct nlmsgerr: the error code and the header of the request it answers.
public struct ErrorMessage: NetlinkHeader {
    public static let size = 20
    public var error: Int32
    public var requestLength: UInt32
    public var requestType: UInt16
    public var requestFlags: UInt16
    public var requestSequence: UInt32
    public var requestPortID: UInt32

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.append(error); w.append(requestLength); w.append(requestType); w.append(requestFlags)
        w.append(requestSequence); w.append(requestPortID)
        return w.bytes
    }

    public init(reader r: inout ByteReader) throws {
        error = try r.read(Int32.self, "nlmsgerr.error")
        requestLength = try r.read(UInt32.self, "nlmsgerr.msg.len"); requestType = try r.read(UInt16.self, "nlmsgerr.msg.type")
        requestFlags = try r.read(UInt16.self, "nlmsgerr.msg.flags"); requestSequence = try r.read(UInt32.self, "nlmsgerr.msg.seq")
        requestPortID = try r.read(UInt32.self, "nlmsgerr.msg.pid")
    }
}

/// Address families as the family headers carry them.
public enum AddressFamily {
    public static let unspecified = UInt8(AF_UNSPEC_VALUE)
    public static let inet: UInt8 = 2
    public static let inet6: UInt8 = 10
    public static let bridge: UInt8 = 7
}

let AF_UNSPEC_VALUE = 0
