import NetAddress

/// Checks that need the whole lab: names that refer to other parts of the file, interface
/// names per node, addresses across the lab, and whether each route's gateway is reachable.
/// Also names the interfaces the file left unnamed, because routes may refer to them.
struct Validator {
    private(set) var diagnostics: [Diagnostic] = []

    mutating func error(_ location: SourceLocation, _ message: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(location, message, hint: hint))
    }

    mutating func validate(_ lab: inout DraftLab) {
        checkNamespaceNames(lab)
        let known = Set(lab.nodes.map(\.name))
        checkEndpointNodes(lab, known: known)
        nameInterfaces(&lab, known: known)
        resolveVLANs(&lab)
        assignAddresses(&lab)
        checkBridges(lab)
        checkAddresses(lab)
        checkRoutes(lab)
        checkRouting(lab)
        checkHosts(lab)
    }

    /// A bridge is a switch: addresses belong on the nodes plugged into it, not on its ports.
    private mutating func checkBridges(_ lab: DraftLab) {
        let bridges = Set(lab.nodes.filter { $0.kind == .bridge }.map(\.name))
        guard !bridges.isEmpty else { return }
        for node in lab.nodes where node.kind == .bridge && !node.routes.isEmpty {
            error(node.routes[0].location, "bridge \(Names.quoted(node.name)) cannot have routes",
                  hint: "a bridge forwards frames, not IP packets; put routes on the hosts and routers plugged into it")
        }
        for link in lab.links {
            for endpoint in link.endpoints where bridges.contains(endpoint.node.value) {
                if let address = endpoint.addresses.first {
                    error(address.location, "port \(endpoint.node.value):\(endpoint.interface?.value ?? "?") of bridge "
                          + "\(Names.quoted(endpoint.node.value)) cannot have an address",
                          hint: "give the address to the other end of the link: the bridge is a switch")
                }
            }
            if link.endpoints.count == 2, link.endpoints.allSatisfy({ bridges.contains($0.node.value) }),
               link.endpoints[0].node.value == link.endpoints[1].node.value {
                error(link.location, "a link joins bridge \(Names.quoted(link.endpoints[0].node.value)) to itself",
                      hint: "a loop on one switch only floods it; remove the link")
            }
        }
    }

    private mutating func checkNamespaceNames(_ lab: DraftLab) {
        guard !lab.prefix.isEmpty, Names.prefixProblem(lab.prefix) == nil else { return }
        for node in lab.nodes where Names.nodeNameProblem(node.name) == nil {
            let namespace = lab.prefix + node.name
            if namespace.utf8.count > Names.namespaceNameLimit {
                error(node.location,
                      "namespace name '\(namespace)' (prefix + node name) is \(namespace.utf8.count) bytes, more than \(Names.namespaceNameLimit)",
                      hint: "shorten 'prefix' or the node name")
            }
        }
    }

    private mutating func checkEndpointNodes(_ lab: DraftLab, known: Set<String>) {
        let names = lab.nodes.map(\.name)
        for link in lab.links {
            for endpoint in link.endpoints where !known.contains(endpoint.node.value) {
                let hint = Suggest.didYouMean(endpoint.node.value, among: names)
                    ?? "declare it under 'nodes' (nodes: \(names.joined(separator: ", ")))"
                error(endpoint.node.location, "unknown node \(Names.quoted(endpoint.node.value)) in link endpoint", hint: hint)
            }
        }
    }

    /// Explicit names first, so that eth0, eth1, … handed out in file order skip names the
    /// file uses anywhere on that node, even in a later link.
    private mutating func nameInterfaces(_ lab: inout DraftLab, known: Set<String>) {
        var used: [String: [String: SourceLocation]] = [:]
        for link in lab.links {
            for endpoint in link.endpoints {
                guard let interface = endpoint.interface, known.contains(endpoint.node.value) else { continue }
                if let first = used[endpoint.node.value]?[interface.value] {
                    error(interface.location,
                          "interface \(Names.quoted(interface.value)) is used twice on node \(Names.quoted(endpoint.node.value)); the first is at \(first)",
                          hint: "give each link end on a node its own interface name")
                } else {
                    used[endpoint.node.value, default: [:]][interface.value] = interface.location
                }
            }
        }
        var next: [String: Int] = [:]
        for l in lab.links.indices {
            for e in lab.links[l].endpoints.indices where lab.links[l].endpoints[e].interface == nil {
                let node = lab.links[l].endpoints[e].node
                var number = next[node.value] ?? 0
                while used[node.value]?["eth\(number)"] != nil { number += 1 }
                let name = "eth\(number)"
                used[node.value, default: [:]][name] = node.location
                next[node.value] = number + 1
                lab.links[l].endpoints[e].interface = Located(value: name, location: node.location)
            }
        }
    }

    private mutating func checkAddresses(_ lab: DraftLab) {
        var seen: [IPAddress: (location: SourceLocation, owner: String)] = [:]
        for interface in lab.interfaces {
            let owner = "\(interface.node):\(interface.name ?? "?")"
            for address in interface.addresses {
                let prefix = address.value
                if let first = seen[prefix.address] {
                    error(address.location,
                          "address \(prefix.address) is already used by \(first.owner) at \(first.location)",
                          hint: "every address in a lab must be unique")
                    continue
                }
                seen[prefix.address] = (address.location, owner)
                // /31 (RFC 3021) and /32 have no network or broadcast address to avoid.
                guard case .v4(let value) = prefix.address, prefix.length <= 30 else { continue }
                let network = prefix.network
                let hostMask: UInt32 = prefix.length == 0 ? .max : (UInt32.max >> UInt32(prefix.length))
                if value & hostMask == 0 {
                    error(address.location, "\(prefix) is the network address of \(network), not a host address",
                          hint: "use a host address such as \(IPAddress.v4(value | 1))/\(prefix.length)")
                } else if value & hostMask == hostMask {
                    error(address.location, "\(prefix) is the broadcast address of \(network), not a host address",
                          hint: "use a host address such as \(IPAddress.v4(value - 1))/\(prefix.length)")
                }
            }
        }
    }

    private mutating func checkRoutes(_ lab: DraftLab) {
        var interfaces: [String: [(name: String, addresses: [IPPrefix])]] = [:]
        for interface in lab.interfaces {
            guard let name = interface.name else { continue }
            interfaces[interface.node, default: []].append((name, interface.addresses.map(\.value)))
        }
        for node in lab.nodes {
            let own = interfaces[node.name] ?? []
            var seen: [String: SourceLocation] = [:]
            for route in node.routes {
                checkRoute(route, node: node.name, interfaces: own)
                // The kernel keeps one route per destination and metric; IPv6 routes without
                // a metric get 1024 and IPv4 ones 0, so compare with those filled in.
                let metric = route.metric ?? (route.destination.family == .ipv6 ? 1024 : 0)
                let key = "\(route.destination.network) \(metric)"
                if let first = seen[key] {
                    let target = route.destination.length == 0 ? "default (\(route.destination.network))" : "\(route.destination.network)"
                    error(route.location,
                          "duplicate route to \(target) with metric \(metric) on node \(Names.quoted(node.name)); the first is at \(first)",
                          hint: "remove one, or give them different metrics")
                } else {
                    seen[key] = route.location
                }
            }
        }
    }

    private mutating func checkRoute(_ route: DraftRoute, node: String,
                                     interfaces: [(name: String, addresses: [IPPrefix])]) {
        var device: (name: String, addresses: [IPPrefix])?
        if let dev = route.device {
            device = interfaces.first { $0.name == dev.value }
            if device == nil {
                let names = interfaces.map(\.name)
                let hint = Suggest.didYouMean(dev.value, among: names)
                    ?? (names.isEmpty ? "\(node) has no interfaces: connect it with a link first"
                                      : "its interfaces are \(names.joined(separator: ", "))")
                error(dev.location, "node \(Names.quoted(node)) has no interface \(Names.quoted(dev.value))", hint: hint)
            }
        }
        guard let gateway = route.gateway else { return }
        let address = gateway.value

        if let mine = interfaces.first(where: { $0.addresses.contains { $0.address == address } }) {
            error(gateway.location, "gateway \(address) is an address of \(node) itself (on \(mine.name))",
                  hint: "the gateway is the next router's address on a shared subnet")
            return
        }
        if address.isLinkLocalV6 {
            // Every interface has its own fe80::/64, so only `dev` says which one is meant.
            if route.device == nil {
                error(gateway.location, "link-local gateway \(address) needs 'dev INTERFACE'",
                      hint: "add dev and the interface the gateway is reached through")
            }
            return
        }
        if route.device != nil, device == nil { return }
        let candidates = device.map { [$0] } ?? interfaces
        var subnets: [IPPrefix] = []
        for interface in candidates {
            for prefix in interface.addresses where !subnets.contains(prefix.network) {
                subnets.append(prefix.network)
            }
        }
        guard !subnets.contains(where: { $0.contains(address) }) else { return }
        let place = device.map { "\(node):\($0.name)" } ?? node
        let known = subnets.isEmpty ? "it has no addresses" : "its subnets: \(subnets.map(\.description).joined(separator: ", "))"
        error(gateway.location, "gateway \(address) is not on any subnet connected to \(place) (\(known))",
              hint: "a gateway must be a neighbour: an address inside the subnet of one of \(place)'s interface addresses")
    }
}

extension DraftLab {
    /// The public model; only meaningful once validation found nothing.
    func topology(file: String) -> Topology {
        let nodes = nodes.map { node in
            Node(name: node.name, kind: node.kind,
                 routes: node.routes.map {
                     Route(destination: $0.destination.network, gateway: $0.gateway?.value, device: $0.device?.value,
                           metric: $0.metric, location: $0.location)
                 },
                 location: node.location, files: node.files, commands: node.commands, stp: node.stp?.value ?? false,
                 vlanFiltering: node.vlanFiltering, asNumber: node.asNumber?.value, area: node.area?.value, routerID: node.routerID?.value, frr: node.frr,
                 host: node.host?.value)
        }
        let links = links.map { link in
            Link(endpoints: link.endpoints.map { end in
                Endpoint(node: end.node.value, interface: end.interface?.value ?? "", addresses: end.addresses.map(\.value),
                         mtu: end.mtu ?? link.mtu, mac: end.mac, location: end.location, impairment: end.impairment,
                         portVLANs: end.portVLANs,
                         subinterfaces: end.subinterfaces.map {
                             Subinterface(vlan: $0.vlan.value, name: $0.name?.value ?? "", addresses: $0.addresses.map(\.value),
                                          location: $0.vlan.location)
                         }, cost: (end.cost ?? link.cost)?.value)
            }, location: link.location, isDown: link.isDown, impairment: link.impairment, flap: link.flap, area: link.area?.value,
               vni: link.vni?.value, tunnel: link.tunnel?.value)
        }
        var topology = Topology(name: name, prefix: prefix, nodes: nodes, links: links, file: file, expectations: expectations,
                                neighbours: neighbours, routing: routing)
        topology.format = format
        topology.notes = notes
        topology.hosts = hosts
        topology.vxlan = vxlan
        topology.remoteNodes = remoteNodes
        topology.placedOn = placedOn
        topology.ttl = ttl
        return topology
    }
}
