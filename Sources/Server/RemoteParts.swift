import Foundation
import Lab
import Topology

/// A spread lab's parts on other hosts in the page's view: their nodes as their hosts read them,
/// kept current by the hosts' events.
extension LiveLab {
    /// Adds every host's nodes (each marked with its host) and links, and the links between
    /// machines drawn between their two ends. A host that could not be read shows its nodes from
    /// the lab's record, absent.
    mutating func addParts(_ layout: SpreadLayout, states: [String: Result<LabState, LabError>]) {
        var linkIDs = Set(view.links.map(\.id))
        func addLink(_ a: String, _ b: String) {
            let link = LinkView(a, b)
            if linkIDs.insert(link.id).inserted { view.links.append(link) }
        }
        for host in layout.hosts {
            switch states[host] {
            case .success(let state):
                for node in state.nodes {
                    let interfaces = node.interfaces.map { LiveLab.view(of: $0) }
                    view.nodes.append(NodeView(name: node.name, namespace: node.namespace, kind: node.kind ?? NodeKind.host.rawValue,
                                               present: node.present, stopped: node.stopped ?? false, interfaces: interfaces, host: host))
                    for interface in interfaces { if let peer = interface.peer { addLink("\(node.name):\(interface.name)", peer) } }
                }
            case .failure, nil:
                for node in layout.remoteNodes where node.host == host {
                    view.nodes.append(NodeView(name: node.name, namespace: "", kind: node.kind.rawValue, present: false, interfaces: [], host: host))
                }
            }
        }
        remoteInterfaces = [:]
        for (n, node) in view.nodes.enumerated() where node.host != nil {
            for (i, interface) in node.interfaces.enumerated() { remoteInterfaces["\(node.name):\(interface.name)"] = (n, i) }
        }
        for ends in layout.crossHostLinks where ends.count == 2 {
            addLink(ends[0], ends[1])
            setPeer(of: ends[0], to: ends[1])
            setPeer(of: ends[1], to: ends[0])
        }
    }

    /// A VXLAN end's peer is on another machine: the kernel does not know it, the record does.
    private mutating func setPeer(of end: String, to peer: String) {
        for n in view.nodes.indices {
            for i in view.nodes[n].interfaces.indices where "\(view.nodes[n].name):\(view.nodes[n].interfaces[i].name)" == end {
                view.nodes[n].interfaces[i].peer = peer
            }
        }
    }

    static func view(of interface: InterfaceState) -> InterfaceView {
        InterfaceView(name: interface.name, index: interface.index, kind: interface.kind, state: interface.state, up: interface.up,
                      carrier: interface.carrier, mtu: interface.mtu, mac: interface.mac, addresses: interface.addresses,
                      peer: interface.peer.map { "\($0.node):\($0.interface)" }, master: interface.master,
                      impairment: interface.impairment.map(LiveLab.describe))
    }

    /// Applies one event of another host's part (the host's `nslab events`).
    mutating func apply(_ event: LabEvent) -> Change {
        switch event.type {
        case .linkUp, .linkDown, .carrierUp, .carrierDown, .impairmentSet, .impairmentCleared, .addressAdded, .addressRemoved:
            guard let end = event.interface, let (n, i) = remoteInterfaces[end] else {
                // An interface the view does not have: it appeared meanwhile.
                return [.addressAdded, .addressRemoved, .impairmentCleared].contains(event.type) ? .none : .structure
            }
            var interface = view.nodes[n].interfaces[i]
            switch event.type {
            case .linkUp: interface.up = true
            case .linkDown: interface.up = false
            case .carrierUp: interface.carrier = true
            case .carrierDown: interface.carrier = false
            case .impairmentSet: interface.impairment = event.impairment
            case .impairmentCleared: interface.impairment = nil
            case .addressAdded: if let address = event.address, !interface.addresses.contains(address) { interface.addresses.append(address) }
            case .addressRemoved: interface.addresses.removeAll { $0 == event.address }
            default: break
            }
            // The kernel's operational state is not in the events: what the flags amount to.
            interface.state = !interface.up ? "DOWN" : interface.carrier ? "UP" : "LOWERLAYERDOWN"
            guard interface != view.nodes[n].interfaces[i] else { return .none }
            view.nodes[n].interfaces[i] = interface
            return .interface(node: view.nodes[n].name, interface)
        case .interfaceAdded, .interfaceRemoved, .nodeAdded, .nodeRemoved, .nodeStopped, .nodeStarted,
             .labDeployed, .labConverged, .labDestroyed:
            return .structure
        case .routeAdded, .routeRemoved, .processStarted, .processExited:
            return .none  // the page draws neither
        }
    }
}
