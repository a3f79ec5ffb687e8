import CShims
import Foundation
import NetAddress
import Netlink
import Topology

/// What separates a lab as it is (ObservedLab) from its plan, as changes in the order they are
/// carried out: what goes away first (so names and addresses are free), then nodes, links,
/// interface settings, addresses, routes, files and processes.
public struct LabDifference: Sendable {
    /// What converging does.
    public var changes: [LabChange]
    /// What is in the lab that no version of its topology put there (an address or a route added
    /// by hand): reported, and among `changes` only when pruning.
    public var foreign: [LabChange]

    public var isEmpty: Bool { changes.isEmpty }

    /// `previous` is the plan of the topology the lab was last deployed or converged from: what
    /// nslab put there. Anything else found in its nodes is foreign.
    public static func compute(plan: LabPlan, observed: ObservedLab, previous: LabPlan?, prune: Bool) -> LabDifference {
        var builder = DifferenceBuilder(plan: plan, observed: observed, previous: previous, prune: prune)
        builder.run()
        let steps = builder.steps.enumerated().sorted { ($0.element.phase, $0.offset) < ($1.element.phase, $1.offset) }
        let changes = steps.filter { prune || !$0.element.foreign }.map(\.element.change)
        return LabDifference(changes: changes, foreign: steps.filter(\.element.foreign).map(\.element.change))
    }

    /// Everything to do, each line as `diff` prints it, with the foreign things marked.
    public var records: [ChangeRecord] {
        var foreignLines = Set(foreign.map(\.line))
        var records: [ChangeRecord] = changes.map { change in
            var record = change.record
            if foreignLines.remove(change.line) != nil { record.foreign = true }
            return record
        }
        for change in foreign where foreignLines.contains(change.line) {
            var record = change.record
            record.foreign = true
            records.append(record)
        }
        return records
    }
}

/// The order changes are carried out in. Removals come first so that the names, indexes and
/// addresses they free can be taken by what is added; a link goes down last, once the routes
/// through it are in (the kernel then drops them, as after `nslab link … down`).
enum ChangePhase: Int, Comparable {
    case endCommands, removeRoutes, removeNeighbours, removeSubinterfaces, removeLinks, removeBridges, removeNodes
    case addNodes, forwarding, addBridges, addLinks, addSubinterfaces, interfaceSettings, linksUp, addresses
    case neighbours, impairments, routes, linksDown, files, frr, startCommands

    static func < (a: ChangePhase, b: ChangePhase) -> Bool { a.rawValue < b.rawValue }
}

struct DifferenceStep {
    var phase: ChangePhase
    var change: LabChange
    var foreign = false
}

private struct DifferenceBuilder {
    let plan: LabPlan
    let observed: ObservedLab
    let previous: LabPlan?
    var steps: [DifferenceStep] = []
    /// Nodes (re)created by this change: everything in them is new.
    var newNodes: Set<String> = []
    /// Link ends that exist and join the planned peer: kept as they are.
    var keptEnds: Set<InterfaceRef> = []
    /// Interfaces removed (or about to be recreated): not compared further.
    var removedInterfaces: Set<InterfaceRef> = []

    let prune: Bool

    init(plan: LabPlan, observed: ObservedLab, previous: LabPlan?, prune: Bool) {
        self.plan = plan; self.observed = observed; self.previous = previous; self.prune = prune
    }

    mutating func add(_ phase: ChangePhase, _ change: LabChange, foreign: Bool = false) {
        steps.append(DifferenceStep(phase: phase, change: change, foreign: foreign))
    }

    mutating func run() {
        compareNodes()
        compareLinks()
        for node in plan.nodes { compareInside(node) }
    }

    // MARK: nodes

    mutating func compareNodes() {
        for node in observed.nodes {
            let planned = plan.node(node.name)
            // Gone or replaced behind nslab's back, or renamed by a new prefix: made again.
            if planned == nil || !node.present || planned?.namespace != node.namespace {
                add(.removeNodes, .removeNode(node))
            }
        }
        for node in plan.nodes {
            if let existing = observed.node(node.name), existing.present, existing.namespace == node.namespace {
                if existing.kernel?.forwardingIPv4 != node.forwards || existing.kernel?.forwardingIPv6 != node.forwards {
                    add(.forwarding, .setForwarding(node: node.name, forwards: node.forwards))
                }
                let ttl = node.ttl ?? PacketTTL.kernelDefault
                if let kernel = existing.kernel, let found = kernel.ttl(otherThan: ttl) {
                    add(.forwarding, .setTTL(node: node.name, from: found, to: ttl))
                }
                continue
            }
            newNodes.insert(node.name)
            add(.addNodes, .addNode(node))
        }
    }

    func kernel(of node: String) -> ObservedKernelState? {
        newNodes.contains(node) ? nil : observed.node(node)?.kernel
    }

    func peer(of end: InterfaceRef) -> InterfaceRef? {
        newNodes.contains(end.node) ? nil : observed.node(end.node)?.peers[end.interface]
    }

    // MARK: links

    mutating func compareLinks() {
        for link in plan.links {
            let made = link.ends.allSatisfy { end in
                kernel(of: end.node)?.link(named: end.interface).map(link.kind.matches) == true
            }
            // A veth is kept only with its own peer: two ends left from different pairs are not a link.
            if made, link.kind != .veth || (peer(of: link.ends[0]) == link.ends[1] && peer(of: link.ends[1]) == link.ends[0]) {
                keptEnds.formUnion(link.ends)
                continue
            }
            let ends = link.ends.compactMap { plan.node($0.node)?.interface($0.interface) }
            guard ends.count == link.ends.count else { continue }
            add(.addLinks, .addLink(link, ends: ends))
        }
        // Whatever holds a name a planned interface needs, or is not planned at all, goes.
        var removedPairs: Set<InterfaceRef> = []
        for node in observed.nodes where !newNodes.contains(node.name) && plan.node(node.name) != nil {
            guard let kernel = node.kernel, let planned = plan.node(node.name) else { continue }
            for link in kernel.links where !link.isLoopback {
                let ref = InterfaceRef(node: node.name, interface: link.name)
                if keptEnds.contains(ref) || removedPairs.contains(ref) { continue }
                let wanted = planned.interface(link.name)
                if case .linkEnd? = wanted?.kind { /* not kept: recreated */ } else if let wanted, matches(wanted, link, in: kernel) {
                    continue
                }
                let foreign = !(previous?.node(node.name)?.interface(link.name) != nil || wanted != nil)
                removedInterfaces.insert(ref)
                if link.interfaceKind == .veth || link.interfaceKind == .vxlan {
                    let peer = node.peers[link.name]
                    if let peer { removedPairs.insert(peer); removedInterfaces.insert(peer) }
                    add(.removeLinks, .removeLink(ref, peer: peer), foreign: foreign)
                } else {
                    let phase: ChangePhase = link.interfaceKind == .bridge ? .removeBridges : .removeSubinterfaces
                    add(phase, .removeInterface(ref, kind: link.kind), foreign: foreign)
                }
            }
        }
    }

    /// An existing non-veth interface that is what the plan wants (same kind and settings).
    func matches(_ wanted: PlannedInterface, _ link: LinkInfo, in kernel: ObservedKernelState) -> Bool {
        switch wanted.kind {
        case .linkEnd:
            return false
        case .vlan(let parent, let id):
            return link.interfaceKind == .vlan && link.vlanID == id && link.peerIndex.flatMap(kernel.name(ofIndex:)) == parent
        case .bridge(let stp, let vlanFiltering):
            return link.interfaceKind == .bridge && ((link.stpState ?? 0) != 0) == stp && (link.vlanFiltering ?? false) == vlanFiltering
        }
    }

    // MARK: inside a node

    mutating func compareInside(_ node: PlannedNode) {
        let kernel = self.kernel(of: node.name)
        let previousNode = previous?.node(node.name)
        let bridgeFilters = node.interfaces.contains { if case .bridge(_, true) = $0.kind { return true } else { return false } }
        var downInterfaces: Set<String> = []
        var plannedMTU: [String: UInt32] = [:]
        // Interfaces losing an address or made again: the kernel may drop the routes through
        // them on the way (all of an interface's IPv4 routes when its last address goes).
        var disturbed: Set<String> = []
        let bridgeRecreated = removedInterfaces.contains(InterfaceRef(node: node.name, interface: LabDeployer.bridgeName))

        for interface in node.interfaces {
            let ref = InterfaceRef(node: node.name, interface: interface.name)
            let existing = removedInterfaces.contains(ref) ? nil : kernel?.link(named: interface.name)
            let isNew: Bool
            switch interface.kind {
            case .linkEnd:
                isNew = !keptEnds.contains(ref)
            case .bridge, .vlan:
                isNew = existing == nil
                if isNew {
                    add(interface.kind.isBridge ? .addBridges : .addSubinterfaces, .addInterface(node: node.name, interface))
                }
            }
            if !interface.up { downInterfaces.insert(interface.name) }
            let mtu: UInt32 = {
                if let mtu = interface.mtu { return mtu }
                if case .vlan(let parent, _) = interface.kind { return plannedMTU[parent] ?? LinkDefaults.mtu }
                return LinkDefaults.mtu
            }()
            plannedMTU[interface.name] = mtu
            let link = isNew ? nil : existing

            // Settings a new link end is created with; a new sub-interface or bridge gets them here.
            // A new end is created up, as deploy creates it (the kernel gives it its default
            // qdisc then), and taken down with the other links declared down.
            if link == nil, interface.kind.isLinkEnd, !interface.up { add(.linksDown, .setUp(ref, up: false)) }
            if let link {
                if !interface.kind.isBridge, link.mtu != mtu { add(.interfaceSettings, .setMTU(ref, from: link.mtu, to: mtu)) }
                if let mac = interface.mac, link.mac != mac { add(.interfaceSettings, .setMAC(ref, from: link.mac, to: mac)) }
                // A bridge made again has no ports: the kept ones are put back on it.
                let master = bridgeRecreated ? nil : link.master.flatMap { kernel?.name(ofIndex: $0) }
                if master != interface.master { add(.interfaceSettings, .setMaster(ref, from: master, to: interface.master)) }
                if link.isUp != interface.up { add(interface.up ? .linksUp : .linksDown, .setUp(ref, up: interface.up)) }
            } else if !interface.kind.isLinkEnd {
                if interface.mtu != nil { add(.interfaceSettings, .setMTU(ref, from: nil, to: mtu)) }
                if let mac = interface.mac { add(.interfaceSettings, .setMAC(ref, from: nil, to: mac)) }
            }

            // Taking an interface down makes the kernel drop its IPv6 addresses and neighbour
            // entries: a fresh deploy of a link declared down has neither.
            let wantedAddresses = interface.up ? interface.addresses : interface.addresses.filter { $0.family == .ipv4 }
            let current = link.map { kernel?.declarableAddresses(of: $0.index) ?? [] } ?? []
            var removed: [IPPrefix] = []
            for prefix in current where !wantedAddresses.contains(prefix) {
                let ours = previousNode?.interface(interface.name)?.addresses.contains(prefix) == true
                add(.addresses, .removeAddress(ref, prefix), foreign: !ours)
                if ours || prune { removed.append(prefix) }
            }
            if !removed.isEmpty { disturbed.insert(interface.name) }
            for prefix in wantedAddresses where !current.contains(prefix) { add(.addresses, .addAddress(ref, prefix)) }
            // Deleting an IPv4 primary address deletes the secondaries of its subnet with it
            // (promote_secondaries is off by default): those that stay are put back.
            for prefix in wantedAddresses where current.contains(prefix) && prefix.family == .ipv4
                && removed.contains(where: { $0.family == .ipv4 && $0.network == prefix.network }) {
                add(.addresses, .addAddress(ref, prefix))
            }

            let wantedNeighbours = interface.up ? Set(interface.permanentNeighbours) : []
            let currentNeighbours = link.map { kernel?.permanentNeighbours(of: $0.index) ?? [] } ?? []
            for entry in currentNeighbours.subtracting(wantedNeighbours).sorted(by: neighbourOrder) {
                let ours = previousNode?.interface(interface.name)?.permanentNeighbours.contains(entry) == true
                add(.removeNeighbours, .removeNeighbour(ref, entry), foreign: !ours)
            }
            for entry in interface.permanentNeighbours where wantedNeighbours.contains(entry) && !currentNeighbours.contains(entry) {
                add(.neighbours, .addNeighbour(ref, entry))
            }

            let currentImpairment = link.flatMap { kernel?.impairment(of: $0.index) }
            let wantedImpairment = interface.impairment.map(ImpairmentQdisc.asReadBack)
            if currentImpairment != wantedImpairment {
                add(.impairments, .setImpairment(ref, from: currentImpairment, to: interface.impairment))
            }

            if bridgeFilters, interface.master != nil {
                let wanted = interface.portVLANs ?? .kernelDefault
                let current = (bridgeRecreated ? nil : link.flatMap { kernel?.portVLANs(of: $0.index) }) ?? PortVLANState.kernelDefault
                if !current.isSame(as: wanted) { add(.interfaceSettings, .setPortVLANs(ref, from: current, to: wanted)) }
            }
        }

        for ref in removedInterfaces where ref.node == node.name { disturbed.insert(ref.interface) }
        compareRoutes(node, kernel: kernel, down: downInterfaces, disturbed: disturbed)
        compareFiles(node)
        compareCommands(node)
        if !node.stopped {
            compareFRR(node)
            compareFlaps(node)
        }
    }

    mutating func compareRoutes(_ node: PlannedNode, kernel: ObservedKernelState?, down: Set<String>, disturbed: Set<String>) {
        // A route through a link that is down cannot be in the kernel (it refuses it, and drops
        // those it had when the link went down).
        let wanted = node.routes.filter { route in
            guard let through = outputInterface(of: route, in: node) else { return true }
            return !down.contains(through)
        }
        let current = kernel?.staticRoutes ?? []
        var currentByKey: [RouteKey: RouteInfo] = [:]
        // A wanted route through a disturbed interface is added again (it may be gone by then).
        for route in current {
            if let index = route.outputIndex, let name = kernel?.name(ofIndex: Int32(index)), disturbed.contains(name) {
                continue
            }
            currentByKey[RouteKey(route)] = currentByKey[RouteKey(route)] ?? route
        }
        var wantedKeys: Set<RouteKey> = []
        for route in wanted {
            let key = RouteKey(route)
            wantedKeys.insert(key)
            guard let existing = currentByKey[key] else {
                add(.routes, .addRoute(node: node.name, route))
                continue
            }
            let device = existing.outputIndex.flatMap { kernel?.name(ofIndex: Int32($0)) }
            if existing.gateway != route.gateway || (route.device != nil && device != route.device) || existing.type != UInt8(RTN_UNICAST) {
                add(.routes, .replaceRoute(node: node.name, from: routeText(existing, kernel: kernel), to: route))
            }
        }
        let previousKeys = Set(previous?.node(node.name)?.routes.map(RouteKey.init) ?? [])
        for route in current where !wantedKeys.contains(RouteKey(route)) {
            // Gone with its interface.
            if let index = route.outputIndex, let name = kernel?.name(ofIndex: Int32(index)),
               removedInterfaces.contains(InterfaceRef(node: node.name, interface: name)) { continue }
            add(.removeRoutes, .removeRoute(node: node.name, route, text: routeText(route, kernel: kernel)),
                foreign: !previousKeys.contains(RouteKey(route)))
        }
    }

    /// The interface a route leaves by: its `dev`, or the one whose subnet holds its gateway.
    func outputInterface(of route: PlannedRoute, in node: PlannedNode) -> String? {
        if let device = route.device { return device }
        guard let gateway = route.gateway else { return nil }
        return node.interfaces.first { $0.addresses.contains { $0.contains(gateway) } }?.name
    }

    mutating func compareFiles(_ node: PlannedNode) {
        let current = newNodes.contains(node.name) ? [:] : observed.node(node.name)?.files ?? [:]
        for file in node.files where current[file.name] != file.content {
            add(.files, .writeFile(node: node.name, file, previous: current[file.name]))
        }
        let previousNames = Set(previous?.node(node.name)?.files.map(\.name) ?? [])
        for name in current.keys.sorted() where !node.files.contains(where: { $0.name == name }) {
            add(.files, .removeFile(node: node.name, name: name), foreign: !previousNames.contains(name))
        }
    }

    /// An unchanged command keeps running; one that is no longer asked for ends; one asked for
    /// that does not run (new, changed, or ended since) starts.
    mutating func compareCommands(_ node: PlannedNode) {
        var running = newNodes.contains(node.name) ? [] : (observed.node(node.name)?.processes ?? []).filter(NodeProcesses.isRunning)
        for argv in node.commands {
            if let match = running.firstIndex(where: { $0.command == argv }) {
                running.remove(at: match)
            } else {
                add(.startCommands, .startCommand(node: node.name, argv: argv))
            }
        }
        for process in running { add(.endCommands, .endCommand(node: node.name, process)) }
    }

    /// A node's FRR runs the plan's files and daemons, all of them; one whose files differ or
    /// whose daemons do not all run is started again (FRRNodes.restart); one that no longer
    /// runs FRR has it removed. A removed node's FRR goes with the node.
    mutating func compareFRR(_ node: PlannedNode) {
        let current = newNodes.contains(node.name) ? nil : observed.node(node.name)?.frr
        guard let wanted = node.frr else {
            if let current { add(.frr, .removeFRR(node: node.name, current)) }
            return
        }
        if let current, current.differences(from: wanted).isEmpty { return }
        add(.frr, .startFRR(node: node.name, wanted, previous: current))
    }

    /// A schedule is a one-off run: one recorded with the same settings stays as it is, running
    /// or done. A new one starts, a changed one starts again, one no link asks for ends.
    mutating func compareFlaps(_ node: PlannedNode) {
        let recorded = newNodes.contains(node.name) ? [] : observed.node(node.name)?.flaps ?? []
        var kept: [RecordedProcess] = []
        for flap in node.flaps {
            guard let latest = recorded.last(where: flap.isOnSameLink) else {
                add(.startCommands, .startFlap(flap))
                continue
            }
            if flap.isRunBy(latest) { kept.append(latest) } else { add(.startCommands, .restartFlap(flap, previous: latest)) }
        }
        let replaced = Set(steps.compactMap { step -> Int32? in
            if case .restartFlap(_, let previous) = step.change { return previous.pid } else { return nil }
        })
        for process in recorded where !kept.contains(process) && !replaced.contains(process.pid) && NodeProcesses.isRunning(process) {
            add(.endCommands, .endFlap(node: node.name, process))
        }
    }

    func routeText(_ route: RouteInfo, kernel: ObservedKernelState?) -> String {
        PlannedRoute(destination: route.destination, gateway: route.gateway,
                     device: route.outputIndex.flatMap { kernel?.name(ofIndex: Int32($0)) }, metric: route.metric).text
    }
}

/// How the kernel tells routes of the main table apart: destination and metric.
struct RouteKey: Hashable {
    var destination: IPPrefix
    var metric: UInt32

    init(_ route: PlannedRoute) { destination = route.destination.network; metric = route.effectiveMetric }

    init(_ route: RouteInfo) {
        destination = route.destination.network
        metric = route.metric ?? (route.family == .ipv6 ? 1024 : 0)
    }
}

enum LinkDefaults {
    /// What the kernel gives a new veth, bridge and VLAN (on a parent of this MTU).
    static let mtu: UInt32 = 1500
}

private func neighbourOrder(_ a: PermanentNeighbour, _ b: PermanentNeighbour) -> Bool { a.address < b.address }

extension PlannedInterface.Kind {
    var isBridge: Bool { if case .bridge = self { return true } else { return false } }
    var isLinkEnd: Bool { if case .linkEnd = self { return true } else { return false } }
}

extension PortVLANState {
    /// What the kernel gives a new port of a VLAN-filtering bridge.
    static let kernelDefault = PortVLANState([BridgeVLAN(vid: 1, pvid: true, untagged: true)])

    func isSame(as wanted: PortVLANs) -> Bool {
        pvid == wanted.untagged && Set(untagged) == Set(wanted.untagged.map { [$0] } ?? [])
            && Set(tagged) == Set(wanted.tagged)
    }
}

extension ImpairmentQdisc {
    /// The impairment as the kernel reports it back once set: probabilities rounded to what
    /// netem keeps, rates to whole bytes, the default queue limit and the distribution table
    /// unsaid. Comparing this with what the kernel has tells whether anything changed.
    static func asReadBack(_ impairment: Impairment) -> Impairment {
        var result = Impairment()
        if !impairment.needsNetem, let rate = impairment.rate {
            result.rate = max(rate / 8, 1) * 8
            result.limit = impairment.limit
            return result
        }
        let percent = { (value: Double?) in value.map { ImpairmentQdisc.percent(ImpairmentQdisc.probability($0)) }.flatMap { $0 > 0 ? $0 : nil } }
        result.delay = impairment.delay.flatMap { $0 > 0 ? $0 : nil }
        result.jitter = impairment.jitter.flatMap { $0 > 0 ? $0 : nil }
        result.loss = percent(impairment.loss)
        result.lossCorrelation = percent(impairment.lossCorrelation)
        result.duplicate = percent(impairment.duplicate)
        result.corrupt = percent(impairment.corrupt)
        result.reorder = percent(impairment.reorder)
        result.rate = impairment.rate.flatMap { $0 / 8 > 0 ? ($0 / 8) * 8 : nil }
        result.limit = impairment.limit.flatMap { $0 == 1000 ? nil : $0 }
        return result
    }
}
