import NetAddress

/// `hosts:`, `vxlan:`, `remote:` and `placed-on:` at the top level, `host:` on a node, `vni:` and
/// `vxlan:` on a link: a lab spread over machines, and a host's part of one.
extension TopologyDecoder {
    mutating func decodeSpread(_ top: [String: Entry], into lab: inout DraftLab) {
        if let entry = top["hosts"], !isNull(entry.value) { lab.hosts = decodeHosts(entry.value) }
        if let entry = top["vxlan"], !isNull(entry.value), let plan = decodeVXLANPlan(entry.value) {
            lab.vxlan = plan
        }
        if let entry = top["remote"], !isNull(entry.value) { lab.remoteNodes = decodeRemote(entry.value) }
        if let entry = top["placed-on"], let name = text(entry.value, "'placed-on'") { lab.placedOn = name }
    }

    /// `hosts: { h2: root@192.0.2.2, h3: { ssh: h3, underlay: 192.0.2.3, nslab: /usr/local/bin/nslab } }`.
    private mutating func decodeHosts(_ node: YAMLNode) -> [LabHost] {
        guard case .mapping(let mapping) = node else {
            error(location(node), "'hosts' must be a mapping from host names to how to reach them, found \(describe(node))",
                  hint: "write `hosts: { h2: root@192.0.2.2 }`")
            return []
        }
        var hosts: [LabHost] = []
        for entry in entries(mapping, what: "in 'hosts'") {
            if let problem = Names.nodeNameProblem(entry.key) {
                error(entry.keyLocation, Problem("host name: " + problem.message, hint: problem.hint))
                continue
            }
            if case .scalar = entry.value, let target = text(entry.value, "host \(Names.quoted(entry.key))") {
                hosts.append(LabHost(name: entry.key, ssh: target, location: entry.keyLocation))
                continue
            }
            guard let fields = fields(entry.value, allowed: TopologyKeys.host, what: "host \(Names.quoted(entry.key))",
                                      expected: "an ssh destination or a mapping with 'ssh'",
                                      hint: "write `\(entry.key): { ssh: root@192.0.2.2, underlay: 192.0.2.2 }`") else { continue }
            guard let ssh = fields["ssh"], let target = text(ssh.value, "'ssh'") else {
                missing("ssh", in: entry.value, "host \(Names.quoted(entry.key)) is missing required key 'ssh'",
                        hint: "add `ssh: root@ADDRESS` or an alias from your ssh configuration")
                continue
            }
            var host = LabHost(name: entry.key, ssh: target, location: entry.keyLocation)
            if let underlay = fields["underlay"], let written = text(underlay.value, "'underlay'") {
                if let address = IPAddress(written) {
                    host.underlay = address
                } else {
                    error(location(underlay.value), "'underlay' must be an IPv4 or IPv6 address, not \(Names.quoted(written))",
                          hint: "the address other hosts send this host's VXLAN packets to, e.g. 192.0.2.2")
                }
            }
            if let command = fields["nslab"], let path = text(command.value, "'nslab'") { host.command = path }
            hosts.append(host)
        }
        return hosts
    }

    /// `vxlan: { vni: 5000-5999, port: 4789 }`.
    private mutating func decodeVXLANPlan(_ node: YAMLNode) -> VXLANPlan? {
        guard let fields = fields(node, allowed: TopologyKeys.vxlanPlan, what: "'vxlan'", expected: "a mapping",
                                  hint: "write `vxlan: { vni: 5000-5999, port: 4789 }`") else { return nil }
        var plan = VXLANPlan()
        if let entry = fields["vni"], let written = text(entry.value, "'vni'") {
            let bounds = written.split(separator: "-", maxSplits: 1).map { UInt32($0.trimmingCharacters(in: .whitespaces)) }
            if bounds.count == 1, let first = bounds[0], VXLANPlan.validVNIs.contains(first) {
                plan.vnis = first...VXLANPlan.validVNIs.upperBound
            } else if bounds.count == 2, let first = bounds[0], let last = bounds[1], first <= last,
                      VXLANPlan.validVNIs.contains(first), VXLANPlan.validVNIs.contains(last) {
                plan.vnis = first...last
            } else {
                error(location(entry.value), "'vni' must be a VNI or a range FIRST-LAST of VNIs from 1 to 16777215, not \(Names.quoted(written))",
                      hint: "e.g. `vni: 5000-5999`: each link between hosts takes the next free one")
            }
        }
        if let entry = fields["port"], let port = integer(entry.value, "'port'", in: 1...65535) { plan.port = UInt16(port) }
        if let entry = fields["local"], let written = text(entry.value, "'local'") {
            if let address = IPAddress(written) { plan.local = address } else {
                error(location(entry.value), "'local' must be an IPv4 or IPv6 address, not \(Names.quoted(written))",
                      hint: "this machine's underlay address, which the hosts send its VXLAN packets to")
            }
        }
        return plan
    }

    /// `remote: { r1: { host: h1, kind: router, interfaces: { eth0: [10.0.0.1/24] } } }`: written by
    /// nslab into a host's part of a spread lab.
    private mutating func decodeRemote(_ node: YAMLNode) -> [RemoteNode] {
        guard case .mapping(let mapping) = node else {
            error(location(node), "'remote' must be a mapping from node names to their host and interfaces, found \(describe(node))")
            return []
        }
        var nodes: [RemoteNode] = []
        for entry in entries(mapping, what: "in 'remote'") {
            guard let fields = fields(entry.value, allowed: TopologyKeys.remoteNode, what: "remote node \(Names.quoted(entry.key))",
                                      expected: "a mapping with 'host' and 'interfaces'") else { continue }
            var remote = RemoteNode(name: entry.key, host: "", interfaces: [])
            if let host = fields["host"], let name = text(host.value, "'host'") { remote.host = name }
            if let kind = fields["kind"], let written = text(kind.value, "'kind'") {
                if let value = NodeKind(rawValue: written) { remote.kind = value } else {
                    error(location(kind.value), "unknown node kind \(Names.quoted(written))")
                }
            }
            if let entry = fields["as"], let value = integer(entry.value, "'as'", in: 1...4_294_967_294) { remote.asNumber = UInt32(value) }
            if let interfaces = fields["interfaces"], case .mapping(let list) = interfaces.value {
                for interface in entries(list, what: "in 'interfaces'") {
                    let addresses = isNull(interface.value) ? [] : addressList(interface.value).map(\.value)
                    remote.interfaces.append(DeclaredInterface(node: entry.key, interface: interface.key, addresses: addresses))
                }
            }
            nodes.append(remote)
        }
        return nodes
    }

    /// A node's `host:`.
    mutating func decodeNodeHost(_ fields: [String: Entry], into node: inout DraftNode) {
        guard let entry = fields["host"], let name = text(entry.value, "'host'") else { return }
        node.host = Located(value: name, location: location(entry.value))
    }

    /// A link's `vni:` and `vxlan:`.
    mutating func decodeLinkTunnel(_ fields: [String: Entry], into link: inout DraftLink) {
        if let entry = fields["vni"], let vni = integer(entry.value, "'vni'", in: 1...UInt64(VXLANPlan.validVNIs.upperBound)) {
            link.vni = Located(value: UInt32(vni), location: location(entry.value))
        }
        guard let entry = fields["vxlan"] else { return }
        guard let tunnel = self.fields(entry.value, allowed: TopologyKeys.tunnel, what: "'vxlan'", expected: "a mapping",
                                       hint: "write `vxlan: { vni: 42, remote: 192.0.2.2 }`") else { return }
        func address(_ key: String) -> IPAddress? {
            guard let field = tunnel[key], let written = text(field.value, "'\(key)'") else { return nil }
            guard let address = IPAddress(written) else {
                error(location(field.value), "'\(key)' must be an IPv4 or IPv6 address, not \(Names.quoted(written))")
                return nil
            }
            return address
        }
        let vni = tunnel["vni"].flatMap { integer($0.value, "'vni'", in: 1...UInt64(VXLANPlan.validVNIs.upperBound)) }
        let remote = address("remote")
        let local = address("local")
        if tunnel["vni"] == nil {
            missing("vni", in: entry.value, "the link's 'vxlan' is missing required key 'vni'", hint: "add `vni: 42`, the same at both ends")
        }
        if tunnel["remote"] == nil {
            missing("remote", in: entry.value, "the link's 'vxlan' is missing required key 'remote'",
                    hint: "add `remote: ADDRESS`, the other machine's underlay address")
        }
        var port = VXLANPlan.defaultPort
        if let field = tunnel["port"], let value = integer(field.value, "'port'", in: 1...65535) { port = UInt16(value) }
        let peer = tunnel["peer"].flatMap { text($0.value, "'peer'") }
        if let local, let remote, local.family != remote.family {
            error(location(entry.value), "'local' \(local) and 'remote' \(remote) are of different families",
                  hint: "both underlay addresses must be IPv4, or both IPv6")
        }
        guard let vni, let remote else { return }
        link.tunnel = Located(value: VXLANTunnel(vni: UInt32(vni), local: local, remote: remote, port: port, peer: peer),
                              location: location(entry.value))
    }
}

extension VXLANPlan {
    /// 24 bits; 0 is reserved.
    public static let validVNIs: ClosedRange<UInt32> = 1...16_777_215
}

extension Validator {
    /// Hosts named by nodes exist; VNIs are unique; a tunnel link has one end; the links between
    /// hosts have what VXLAN needs.
    mutating func checkHosts(_ lab: DraftLab) {
        let hostNames = lab.hosts.map(\.name)
        var seenHosts: [String: SourceLocation] = [:]
        for host in lab.hosts {
            if let first = seenHosts[host.name] {
                error(host.location, "host \(Names.quoted(host.name)) is declared twice; the first is at \(first)")
            }
            seenHosts[host.name] = host.location
        }
        var placement: [String: String?] = [:]
        for node in lab.nodes {
            placement[node.name] = node.host?.value
            guard let host = node.host else { continue }
            if !hostNames.contains(host.value) {
                let hint = Suggest.didYouMean(host.value, among: hostNames)
                    ?? (hostNames.isEmpty ? "declare it under a top-level `hosts:` (e.g. `hosts: { \(host.value): root@192.0.2.2 }`)"
                        : "the hosts are \(hostNames.joined(separator: ", ")); declare it under `hosts:`")
                error(host.location, "node \(Names.quoted(node.name)) is on unknown host \(Names.quoted(host.value))", hint: hint)
            }
            if lab.placedOn != nil {
                error(host.location, "a host's part of a spread lab places no node elsewhere",
                      hint: "remove `host:`; deploy the whole lab from its own file")
            }
        }
        var vnis: [UInt32: SourceLocation] = [:]
        let bridges = Set(lab.nodes.filter { $0.kind == .bridge }.map(\.name))
        for link in lab.links {
            let tunnel = link.tunnel
            if let tunnel {
                if link.endpoints.count != 1 {
                    error(tunnel.location, "a link with 'vxlan' has exactly 1 endpoint here, found \(link.endpoints.count)",
                          hint: "the other end is on the machine at 'remote'")
                }
                if let vni = link.vni {
                    error(vni.location, "'vni' is given twice: here and in 'vxlan'", hint: "keep the one in 'vxlan'")
                }
            }
            let hostsOfEnds = Set(link.endpoints.map { placement[$0.node.value] ?? nil })
            let crossHost = link.endpoints.count == 2 && hostsOfEnds.count == 2
            if let vni = link.vni, !crossHost, tunnel == nil {
                error(vni.location, "'vni' is only for a link between nodes on different hosts",
                      hint: "both ends of this link are on the same machine: it is a veth pair; remove 'vni'")
            }
            if let vni = link.vni?.value ?? tunnel?.value.vni {
                let location = link.vni?.location ?? tunnel!.location
                if let first = vnis[vni] {
                    error(location, "VNI \(vni) is already used by the link at \(first)",
                          hint: "each link between hosts needs its own VNI")
                }
                vnis[vni] = location
            }
            if crossHost, lab.routing.isDynamic, let bridge = link.endpoints.first(where: { bridges.contains($0.node.value) }) {
                // A host's part sees across a link to another host only the node at its far end:
                // the routers behind a bridge there would be invisible to its FRR configuration.
                error(link.location, "under routing: \(lab.routing.rawValue), a link between hosts must join routers or hosts, "
                      + "not bridge \(Names.quoted(bridge.node.value))",
                      hint: "place the bridge on the host of the routers it joins, or join the hosts by a router-to-router link")
            }
            if crossHost, let mtu = link.mtu ?? link.endpoints.compactMap(\.mtu).first, mtu > 65_535 - 70 {
                error(link.location, "MTU \(mtu) is too large for a link between hosts: VXLAN adds 50 bytes (70 over IPv6)",
                      hint: "give at most \(65_535 - 70)")
            }
            if crossHost, link.endpoints.contains(where: { $0.addresses.contains { $0.value.family == .ipv6 } }),
               let mtu = link.mtu ?? link.endpoints.compactMap(\.mtu).first, mtu < 1280 {
                error(link.location, "MTU \(mtu) is too small for IPv6 (1280 at least)", hint: "raise 'mtu' to 1280 or more")
            }
        }
        let crossHostCount = lab.links.filter { link in
            link.endpoints.count == 2 && Set(link.endpoints.map { placement[$0.node.value] ?? nil }).count == 2
        }.count
        if crossHostCount > lab.vxlan.vnis.count {
            error(lab.vxlanLocation ?? SourceLocation(file: lab.links.first?.location.file ?? "", line: 1, column: 1),
                  "\(crossHostCount) links join nodes on different hosts but 'vxlan' gives only \(lab.vxlan.vnis.count) VNIs",
                  hint: "widen `vxlan: { vni: FIRST-LAST }`")
        }
    }
}
