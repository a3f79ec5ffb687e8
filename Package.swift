// swift-tools-version:6.0
import PackageDescription

// Layers, imports pointing down only (see DESIGN.md):
//   nslab (CLI) → Lab → Drawing, Topology, Namespaces → Netlink → CShims
// NetAddress (IP addresses and prefixes, pure Swift) sits at the bottom beside CShims so that
// Topology can parse addresses without depending on anything that touches the kernel.
let package = Package(
    name: "nslab",
    products: [
        .executable(name: "nslab", targets: ["nslab"]),
        .library(name: "Lab", targets: ["Lab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CShims"),
        .target(name: "NetAddress"),
        .target(name: "Netlink", dependencies: ["CShims", "NetAddress"]),
        .target(name: "Namespaces", dependencies: ["CShims", "Netlink"]),
        .target(name: "Topology", dependencies: ["NetAddress", .product(name: "Yams", package: "Yams")]),
        // Pictures of a lab (DOT, Mermaid, text) from its topology and, optionally, its live state:
        // pure, no kernel; Lab reads the live state, the CLI runs Graphviz for svg and png.
        .target(name: "Drawing", dependencies: ["Topology", "NetAddress"]),
        .target(name: "Lab", dependencies: [
            "CShims", "NetAddress", "Netlink", "Namespaces", "Topology", "Drawing",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "nslab", dependencies: [
            "Lab", "Topology", "Drawing",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Mutation fuzzer for the topology decoder and the netlink reply parser (scripts/fuzz.sh).
        .executableTarget(name: "nslab-fuzz", dependencies: ["Topology", "Netlink", "NetAddress"]),
        // Shared by the test targets only: runs shell commands without Foundation's Process.
        .target(name: "TestSupport", dependencies: ["CShims"]),
        .testTarget(name: "NetAddressTests", dependencies: ["NetAddress"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "CShims", "TestSupport"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology"]),
        .testTarget(name: "DrawingTests", dependencies: ["Drawing", "Topology", "NetAddress", "TestSupport"]),
        .testTarget(name: "LabTests", dependencies: ["Lab", "Netlink", "Namespaces", "Topology", "Drawing", "CShims", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
