import Lab

/// `nslab inspect` as text: a block per node, interfaces as a table, routes as `ip route` prints them.
struct InspectView {
    let state: LabState

    init(_ state: LabState) { self.state = state }

    func render() -> String {
        var out = ["lab \(state.lab)" + (state.complete ? "" : " (INCOMPLETE: run `nslab destroy \(state.lab)`)")
                   + (state.file.map { " from \($0)" } ?? "")]
        for node in state.nodes {
            var title = "\nnode \(node.name)"
            if let kind = node.kind { title += " (\(kind))" }
            if node.namespace != node.name { title += " namespace \(node.namespace)" }
            if !node.present {
                out.append(title + ": MISSING (namespace gone or replaced)")
                continue
            }
            title += "  forwarding ipv4 \(onOff(node.forwarding.ipv4)) ipv6 \(onOff(node.forwarding.ipv6))"
            if node.stopped == true { title += "  STOPPED (`nslab node \(state.lab) \(node.name) start`)" }
            out.append(title)
            // Bridges, their ports and 802.1Q sub-interfaces get a column of their own, in nodes that have any.
            let hasLayer2 = node.interfaces.contains { layer2($0) != nil }
            let rows = node.interfaces.map { interface -> [String] in
                var row: [String] = [interface.name, interface.state, interface.mtu.map(String.init) ?? "-", interface.mac ?? "-",
                                     interface.peer.map { "\($0.node):\($0.interface)" } ?? interface.vxlan?.text ?? "-"]
                if hasLayer2 { row.append(layer2(interface) ?? "-") }
                row.append(interface.addresses.filter { !$0.hasPrefix("fe80:") }.joined(separator: " "))
                return row
            }
            let header = ["INTERFACE", "STATE", "MTU", "MAC", "PEER"] + (hasLayer2 ? ["LAYER 2"] : []) + ["ADDRESSES"]
            out.append(Table(header: header, rows: rows, indent: "  ").render())
            for interface in node.interfaces {
                if let impairment = interface.impairment { out.append("  impair \(interface.name): \(impairment.text)") }
            }
            let routes = node.routes.filter { !$0.destination.hasPrefix("fe80:") }
            if !routes.isEmpty {
                out.append("  routes:")
                out += routes.map { "    " + routeLine($0) }
            }
            if let routing = node.routing, !routing.isEmpty {
                out.append("  routing:")
                let rows = routing.map { [$0.protocolName.rawValue, $0.interface, $0.neighbour, $0.state] }
                out.append(Table(header: ["PROTOCOL", "INTERFACE", "NEIGHBOUR", "STATE"], rows: rows, indent: "    ").render())
            }
            out += environmentLines(node)
        }
        return out.joined(separator: "\n")
    }

    /// Host name, /etc files and the processes nslab started in the node.
    func environmentLines(_ node: NodeState) -> [String] {
        var lines: [String] = []
        if let hostname = node.hostname { lines.append("  hostname: \(hostname)") }
        if let files = node.files, !files.isEmpty { lines.append("  /etc files: \(files.joined(separator: " "))") }
        if let processes = node.processes, !processes.isEmpty {
            lines.append("  processes:")
            let rows = processes.map { [String($0.pid), $0.state, $0.origin, $0.command.joined(separator: " "), $0.log] }
            lines.append(Table(header: ["PID", "STATE", "FROM", "COMMAND", "LOG"], rows: rows, indent: "    ").render())
        }
        return lines
    }

    /// "bridge, stp off, vlan filtering on", "port of br0: access 10", "vlan 10 on eth0".
    func layer2(_ interface: InterfaceState) -> String? {
        if let bridge = interface.bridge {
            return "bridge, stp \(onOff(bridge.stp)), vlan filtering \(onOff(bridge.vlanFiltering))"
        }
        if let master = interface.master {
            let state = interface.portState.flatMap { $0 == "forwarding" ? nil : " (\($0))" } ?? ""
            return "port of \(master)\(state)" + (interface.vlans.map { ": \($0.text)" } ?? "")
        }
        if let vlan = interface.vlan { return "vlan \(vlan)" + (interface.parent.map { " on \($0)" } ?? "") }
        return nil
    }

    func onOff(_ value: Bool?) -> String { value.map { $0 ? "on" : "off" } ?? "?" }

    func routeLine(_ route: RouteState) -> String {
        var words = [route.destination]
        if let gateway = route.gateway { words += ["via", gateway] }
        if let device = route.device { words += ["dev", device] }
        if route.protocol != "boot" { words += ["proto", route.protocol] }
        if route.scope != "global" { words += ["scope", route.scope] }
        if let metric = route.metric, metric != 0 { words += ["metric", String(metric)] }
        return words.joined(separator: " ")
    }
}
