/// containerlab's FRR nodes: the `frr` kind, and `linux` nodes running an FRR image (whose
/// binds give /etc/frr/daemons and /etc/frr/frr.conf). nslab runs them as routers with the
/// host's FRR, from their own frr.conf (`frr: { config, replace: true }`) and the daemons their
/// daemons file turns on.
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
    /// A containerlab FRR node's configuration, from its binds of /etc/frr/frr.conf (required:
    /// without it the node would run FRR with nothing to do) and /etc/frr/daemons (`NAME=yes`
    /// lines). vtysh.conf and the rest of /etc/frr are FRR's own business: nslab writes them.
    mutating func mapFRRNode(_ node: Entry, kind: Entry, binds: [YAMLNode]) -> FRRSettings? {
        var config: String?
        var daemons: [String] = []
        for item in binds {
            let text = item.scalar?.string ?? ""
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, parts[1].hasPrefix("/etc/frr/") else { continue }
            let target = String(parts[1].dropFirst("/etc/frr/".count))
            guard target == "frr.conf" || target == "daemons" else {
                if target != "vtysh.conf" {
                    error(location(item), "bind \(Names.quoted(text)): nslab gives an FRR node its frr.conf and daemons only",
                          hint: "put the configuration in frr.conf; nslab writes vtysh.conf itself")
                }
                continue
            }
            switch readBoundFile(parts[0]) {
            case .failure(let problem):
                error(location(item), problem)
            case .success(let content) where target == "frr.conf":
                config = content
            case .success(let content):
                daemons = Self.enabledDaemons(content)
            }
        }
        guard let config else {
            error(node.keyLocation, "FRR node \(Names.quoted(node.key)) has no frr.conf",
                  hint: "bind it: `binds: [\(node.key)/frr.conf:/etc/frr/frr.conf]`")
            return nil
        }
        return FRRSettings(config: config, replacesGenerated: true, daemons: daemons, location: node.keyLocation)
    }

    /// The daemons an FRR `daemons` file turns on (`bgpd=yes`), zebra and staticd aside.
    static func enabledDaemons(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).compactMap { line -> String? in
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[1] == "yes", FRRDaemons.all.contains(parts[0]),
                  !FRRDaemons.always.contains(parts[0]) else { return nil }
            return parts[0]
        }
    }
}
