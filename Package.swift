// swift-tools-version:6.1
import PackageDescription

// Layers, imports pointing down only (see DESIGN.md):
//   nslab (CLI) → Server (nslab serve, Hummingbird) → Lab → Drawing, Routing, Topology, Namespaces → Netlink → CShims
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
        // `nslab serve`. Default traits off: they only add swift-configuration, which nslab does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // Already in Hummingbird's graph; named for the server's channel and its shutdown.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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
        // Dynamic routing: which nodes run FRR, what they speak, their frr.conf; pure, no kernel.
        .target(name: "Routing", dependencies: ["Topology", "NetAddress"]),
        .target(name: "Lab", dependencies: [
            "CShims", "NetAddress", "Netlink", "Namespaces", "Topology", "Drawing", "Routing",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The web page of `nslab serve`: live lab state from netlink events, pushed to every viewer.
        .target(name: "Server", dependencies: [
            "Lab", "Netlink", "Namespaces", "Topology", "NetAddress", "CShims",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [
            .embedInCode("Page/index.html"), .embedInCode("Page/app.js"), .embedInCode("Page/style.css"),
        ]),
        .executableTarget(name: "nslab", dependencies: [
            "Lab", "Topology", "Drawing", "Server",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Mutation fuzzer for the topology decoder and the netlink reply parser (scripts/fuzz.sh).
        .executableTarget(name: "nslab-fuzz", dependencies: ["Topology", "Netlink", "NetAddress"]),
        // Shared by the test targets only: runs shell commands without Foundation's Process.
        .target(name: "TestSupport", dependencies: ["CShims"]),
        .testTarget(name: "NetAddressTests", dependencies: ["NetAddress"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "CShims", "TestSupport"]),
        .testTarget(name: "TopologyTests", dependencies: ["Topology"]),
        .testTarget(name: "RoutingTests", dependencies: ["Routing", "Topology", "NetAddress"]),
        .testTarget(name: "DrawingTests", dependencies: ["Drawing", "Topology", "NetAddress", "TestSupport"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Lab", "Netlink", "NetAddress", "Topology", "CShims"]),
        .testTarget(name: "LabTests", dependencies: ["Lab", "Netlink", "Namespaces", "Topology", "Drawing", "CShims", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
