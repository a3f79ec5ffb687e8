import NetAddress

// The path model of one machine's part of a spread lab, as JSON between nslabs: each host's
// `nslab model` writes its nodes, and the controller joins them into one model to walk a path
// across every host. Addresses travel as the text `ip` prints, read back by their parsers.

private enum AddressCoding {
    static func prefix(_ text: String, _ path: [any CodingKey]) throws -> IPPrefix {
        guard let prefix = IPPrefix(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not an address with a prefix length: \(text)"))
        }
        return prefix
    }

    static func address(_ text: String?, _ path: [any CodingKey]) throws -> IPAddress? {
        guard let text else { return nil }
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not an address: \(text)"))
        }
        return address
    }
}

extension ModelInterface: Codable {
    private enum CodingKeys: String, CodingKey { case name, up, carrier, addresses, peer, vlan, parent, portVLANs, portState, otherHost }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        let addresses = try values.decode([String].self, forKey: .addresses).map {
            try AddressCoding.prefix($0, values.codingPath)
        }
        self.init(name: try values.decode(String.self, forKey: .name), up: try values.decode(Bool.self, forKey: .up),
                  carrier: try values.decode(Bool.self, forKey: .carrier), addresses: addresses,
                  peer: try values.decodeIfPresent(InterfaceRef.self, forKey: .peer),
                  vlan: try values.decodeIfPresent(UInt16.self, forKey: .vlan), parent: try values.decodeIfPresent(String.self, forKey: .parent),
                  portVLANs: try values.decodeIfPresent(PortVLANs.self, forKey: .portVLANs),
                  portState: try values.decodeIfPresent(String.self, forKey: .portState))
        otherHost = try values.decodeIfPresent(String.self, forKey: .otherHost)
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(name, forKey: .name)
        try values.encode(up, forKey: .up)
        try values.encode(carrier, forKey: .carrier)
        try values.encode(addresses.map(\.description), forKey: .addresses)
        try values.encodeIfPresent(peer, forKey: .peer)
        try values.encodeIfPresent(vlan, forKey: .vlan)
        try values.encodeIfPresent(parent, forKey: .parent)
        try values.encodeIfPresent(portVLANs, forKey: .portVLANs)
        try values.encodeIfPresent(portState, forKey: .portState)
        try values.encodeIfPresent(otherHost, forKey: .otherHost)
    }
}

extension ModelRoute: Codable {
    private enum CodingKeys: String, CodingKey { case destination, gateway, device, metric, source, kind, protocolName }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        let path = values.codingPath
        self.init(try AddressCoding.prefix(try values.decode(String.self, forKey: .destination), path),
                  via: try AddressCoding.address(try values.decodeIfPresent(String.self, forKey: .gateway), path),
                  dev: try values.decodeIfPresent(String.self, forKey: .device), metric: try values.decode(UInt32.self, forKey: .metric),
                  source: try AddressCoding.address(try values.decodeIfPresent(String.self, forKey: .source), path),
                  kind: try values.decode(Kind.self, forKey: .kind), protocolName: try values.decodeIfPresent(String.self, forKey: .protocolName))
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(destination.description, forKey: .destination)
        try values.encodeIfPresent(gateway?.description, forKey: .gateway)
        try values.encodeIfPresent(device, forKey: .device)
        try values.encode(metric, forKey: .metric)
        try values.encodeIfPresent(preferredSource?.description, forKey: .source)
        try values.encode(kind, forKey: .kind)
        try values.encodeIfPresent(protocolName, forKey: .protocolName)
    }
}

extension ModelNeighbour: Codable {
    private enum CodingKeys: String, CodingKey { case interface, address, state, isFailed }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        guard let address = try AddressCoding.address(try values.decode(String.self, forKey: .address), values.codingPath) else {
            throw DecodingError.dataCorrupted(.init(codingPath: values.codingPath, debugDescription: "a neighbour without an address"))
        }
        self.init(interface: try values.decode(String.self, forKey: .interface), address: address,
                  state: try values.decode(String.self, forKey: .state), isFailed: try values.decode(Bool.self, forKey: .isFailed))
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(interface, forKey: .interface)
        try values.encode(address.description, forKey: .address)
        try values.encode(state, forKey: .state)
        try values.encode(isFailed, forKey: .isFailed)
    }
}

extension ModelNode: Codable {
    private enum CodingKeys: String, CodingKey {
        case name, forwardsIPv4, forwardsIPv6, interfaces, routes, neighbours, declaredRoutes, isSwitch, vlanFiltering
        case defaultTTL, defaultHopLimit
    }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try values.decode(String.self, forKey: .name), forwardsIPv4: try values.decode(Bool.self, forKey: .forwardsIPv4),
                  forwardsIPv6: try values.decode(Bool.self, forKey: .forwardsIPv6),
                  interfaces: try values.decode([ModelInterface].self, forKey: .interfaces),
                  routes: try values.decode([ModelRoute].self, forKey: .routes),
                  neighbours: try values.decode([ModelNeighbour].self, forKey: .neighbours),
                  declaredRoutes: try values.decode([ModelRoute].self, forKey: .declaredRoutes),
                  isSwitch: try values.decode(Bool.self, forKey: .isSwitch), vlanFiltering: try values.decode(Bool.self, forKey: .vlanFiltering))
        // Absent from an nslab that did not know them: its kernels' defaults.
        defaultTTL = try values.decodeIfPresent(Int.self, forKey: .defaultTTL) ?? PacketTTL.kernelDefault
        defaultHopLimit = try values.decodeIfPresent(Int.self, forKey: .defaultHopLimit) ?? PacketTTL.kernelDefault
    }

    public func encode(to encoder: any Encoder) throws {
        var values = encoder.container(keyedBy: CodingKeys.self)
        try values.encode(name, forKey: .name)
        try values.encode(forwardsIPv4, forKey: .forwardsIPv4)
        try values.encode(forwardsIPv6, forKey: .forwardsIPv6)
        try values.encode(interfaces, forKey: .interfaces)
        try values.encode(routes, forKey: .routes)
        try values.encode(neighbours, forKey: .neighbours)
        try values.encode(declaredRoutes, forKey: .declaredRoutes)
        try values.encode(isSwitch, forKey: .isSwitch)
        try values.encode(vlanFiltering, forKey: .vlanFiltering)
        try values.encode(defaultTTL, forKey: .defaultTTL)
        try values.encode(defaultHopLimit, forKey: .defaultHopLimit)
    }
}

extension NetworkModel {
    /// This model with the nodes of the other machines' parts of a spread lab (each host's
    /// `nslab model`), the VXLAN ends of each link between hosts joined: a walk crosses from one
    /// to the other as over a veth pair. An end whose far side was not read stays a link to
    /// another host, where a walk stops.
    public func joined(with others: [ModelNode], across links: [(InterfaceRef, InterfaceRef)]) -> NetworkModel {
        var all = nodes + others
        var positions: [String: Int] = [:]
        for (position, node) in all.enumerated() where positions[node.name] == nil { positions[node.name] = position }
        func index(of end: InterfaceRef) -> (Int, Int)? {
            guard let position = positions[end.node],
                  let index = all[position].interfaces.firstIndex(where: { $0.name == end.interface }) else { return nil }
            return (position, index)
        }
        for (a, b) in links {
            guard let (nodeA, interfaceA) = index(of: a), let (nodeB, interfaceB) = index(of: b) else { continue }
            all[nodeA].interfaces[interfaceA].peer = b
            all[nodeA].interfaces[interfaceA].otherHost = nil
            all[nodeB].interfaces[interfaceB].peer = a
            all[nodeB].interfaces[interfaceB].otherHost = nil
        }
        return NetworkModel(nodes: all, declaredAddresses: declaredAddresses)
    }
}
