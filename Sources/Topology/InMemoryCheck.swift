extension Topology {
    /// The checks a file gets when it is read (names, the lab's size, then the whole-lab
    /// validation: interfaces, addresses, routes and their gateways), run on a lab made in
    /// memory, as `nslab generate` makes them, without writing it out and parsing it back:
    /// parsing a 100×100 grid's file again took half of generate's time. nil when the lab holds
    /// more than such a lab does (nodes with a kind and routes, links of two ends with interfaces
    /// and addresses, a name, prefix, routing and neighbour mode): parse its text instead.
    /// That the text says what the value says is YAMLWriter's part, tested by reading it back.
    public func problemsInMemory() -> [Diagnostic]? {
        guard var draft = plainDraft() else { return nil }
        var problems: [Diagnostic] = []
        func check(_ problem: Problem?, _ location: SourceLocation) {
            if let problem { problems.append(Diagnostic(location, problem.message, hint: problem.hint)) }
        }
        let top = SourceLocation(file: file, line: 1, column: 1)
        check(Names.labNameProblem(name), top)
        check(Names.prefixProblem(prefix), top)
        if nodes.count > TopologyLimits.nodes {
            problems.append(Diagnostic(top, "the lab has \(nodes.count) nodes, more than nslab deploys (\(TopologyLimits.nodes))"))
        }
        if links.count > TopologyLimits.links {
            problems.append(Diagnostic(top, "the lab has \(links.count) links, more than nslab deploys (\(TopologyLimits.links))"))
        }
        var named: Set<String> = []
        for node in nodes {
            check(Names.nodeNameProblem(node.name), node.location)
            if !named.insert(node.name).inserted { problems.append(Diagnostic(node.location, "node '\(node.name)' is defined twice")) }
        }
        for end in links.flatMap(\.endpoints) { check(Names.interfaceNameProblem(end.interface), end.location) }
        var validator = Validator()
        validator.validate(&draft)
        return Topology.sortedByLocation(problems + validator.diagnostics)
    }

    /// The lab as the decoder would have read it from its file, if it holds only what
    /// `problemsInMemory` covers.
    private func plainDraft() -> DraftLab? {
        guard expectations.isEmpty, hosts.isEmpty, remoteNodes.isEmpty, placedOn == nil,
              nodes.allSatisfy({ $0.files.isEmpty && $0.commands.isEmpty && !$0.stp && !$0.vlanFiltering && $0.asNumber == nil
                  && $0.area == nil && $0.frr == nil && $0.host == nil }),
              links.allSatisfy({ $0.endpoints.count == 2 && $0.vni == nil && $0.tunnel == nil && !$0.isDown && $0.impairment == nil
                  && $0.flap == nil && $0.area == nil }),
              links.allSatisfy({ $0.endpoints.allSatisfy { $0.mtu == nil && $0.mac == nil && $0.impairment == nil
                  && $0.portVLANs == nil && $0.subinterfaces.isEmpty && $0.cost == nil } })
        else { return nil }
        var draft = DraftLab()
        draft.name = name
        draft.prefix = prefix
        draft.routing = routing
        draft.neighbours = neighbours
        draft.ttl = ttl
        draft.nodes = nodes.map { node in
            var draftNode = DraftNode(name: node.name, location: node.location)
            draftNode.kind = node.kind
            draftNode.routes = node.routes.map { route in
                DraftRoute(destination: route.destination, isDefault: route.isDefault,
                           gateway: route.gateway.map { Located(value: $0, location: route.location) },
                           device: route.device.map { Located(value: $0, location: route.location) },
                           metric: route.metric, location: route.location)
            }
            return draftNode
        }
        draft.links = links.map { link in
            DraftLink(endpoints: link.endpoints.map { end in
                var draftEnd = DraftEndpoint(node: Located(value: end.node, location: end.location), location: end.location)
                draftEnd.interface = Located(value: end.interface, location: end.location)
                draftEnd.addresses = end.addresses.map { Located(value: $0, location: end.location) }
                return draftEnd
            }, location: link.location)
        }
        return draft
    }
}
