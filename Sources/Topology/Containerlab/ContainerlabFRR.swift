/// containerlab's FRR nodes: the `frr` kind, and `linux` nodes running an FRR image (whose
/// binds give /etc/frr/daemons and /etc/frr/frr.conf). They are refused until nslab runs FRR
/// itself; `mapFRRNode` is the one place where they will be mapped.
enum ContainerlabFRR {
    /// The `frr` kind, or a linux node whose image is FRR's (quay.io/frrouting/frr:…,
    /// frrouting/frr, or any image named frr).
    static func isFRR(kind: String, image: String?) -> Bool {
        if kind == "frr" { return true }
        guard kind == "linux", let image else { return false }
        let repository = image.split(separator: ":").first.map(String.init) ?? image
        let name = repository.split(separator: "/").last.map(String.init) ?? repository
        return repository.contains("frrouting") || name == "frr" || name.hasPrefix("frr-")
    }
}

extension TopologyDecoder {
    /// Maps a containerlab FRR node to an nslab node. Not yet: FRR support is being added on
    /// main (`routing:`, per-node `frr:`); until then the node is refused where its kind or
    /// image says FRR. Wire it here: the node's `binds` hold its daemons and frr.conf.
    mutating func mapFRRNode(_ node: Entry, kind: Entry, image: Entry?) {
        let place = kind.value.scalar?.string == "frr" ? location(kind.value) : image.map { location($0.value) } ?? node.keyLocation
        error(place, "FRR nodes: not yet supported",
              hint: "node \(Names.quoted(node.key)) runs FRR; nslab will run it once its FRR support lands")
    }
}
