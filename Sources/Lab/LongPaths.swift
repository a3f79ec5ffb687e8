import Topology

extension LabDeployer {
    /// What deploy says, in one line, when it raises every node's TTL for the lab's long paths;
    /// nil when it does not.
    public static func ttlNote(_ topology: Topology) -> String? {
        let (ttl, longest) = topology.nodeTTL()
        guard let ttl, let longest else { return nil }
        return "TTL and hop limit \(ttl) in every node: this lab has paths of \(longest) links, and with the kernel's "
            + "default of \(PacketTTL.kernelDefault) echo replies and other packets would expire on the way; write "
            + "`ttl: \(PacketTTL.kernelDefault)` in the topology to keep the kernel's default"
    }
}
