// swift-tools-version: 6.1
//
// flowd: stain-free holographic imaging flow cytometry, live at the microscope.
// Module map and contracts: docs/architecture.md. Libraries first, the executable last;
// dependencies point one way: FlowdCLI → FlowdTools → FlowDaemon → {FlowdConfig, FrameIngest,
// Tracking → Reconstruction, Inference} → {Protocol, ZeroMQ, FFTWSupport, SystemSupport, C shims}.

import PackageDescription

/// Every Swift target builds in Swift 6 language mode: data races are compile errors.
let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "flowd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flowd", targets: ["FlowdCLI"]),
        // The parsers of untrusted input, for the libFuzzer targets in Fuzz/ (scripts/fuzz).
        .library(name: "Protocol", targets: ["Protocol"]),
        .library(name: "Inference", targets: ["Inference"]),
        .library(name: "FlowdConfig", targets: ["FlowdConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // The monitoring port's HTTP server (/metrics, /healthz, the dashboard); NIOCore for its channels.
        // No traits: its default ones build swift-configuration and URL-encoded forms, unused here.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Latency percentiles and the Prometheus buckets of the stage latencies.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // SHA-256 of model and parameter files (BoringSSL on Linux).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // The Prometheus exposition of /metrics (its registry implements swift-metrics' factory).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C shims over the system libraries (Debian packages in brackets).
        .systemLibrary(
            name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),
        // HDF5 for each run's dclab .rtdc file (Debian's serial build; pkg-config finds its paths).
        .systemLibrary(
            name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        // The NATS C client (JetStream and key-value; Debian's libnats-dev 3.4).
        .systemLibrary(
            name: "CNATS", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),

        // Small shared support: the 64-byte aligned buffer, the background-thread loop.
        .target(name: "SystemSupport", swiftSettings: swiftSettings),

        // The SHA-256 that names a model or parameter file, as sha256sum prints it (swift-crypto).
        .target(
            name: "ContentHash", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),

        // The one FFTW planner of the process (FFTW's planner is not thread-safe): cached plans.
        .target(name: "FFTWSupport", dependencies: ["CFFTW", "SystemSupport"], swiftSettings: swiftSettings),

        // Wire formats and their validation: frame message v1 in; `cell`, `counts`, control replies out.
        .target(name: "Protocol", dependencies: ["SystemSupport"], swiftSettings: swiftSettings),

        // A thin, safe Swift wrapper over libzmq: sockets, heap-owned messages, EINTR retry.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ", "SystemSupport"], swiftSettings: swiftSettings),

        // A thin Swift wrapper over the NATS C client: a reconnecting connection, acknowledged
        // JetStream batches, key-value puts.
        .target(name: "NATS", dependencies: ["CNATS"], swiftSettings: swiftSettings),

        // Camera frames in: one receive thread per input, bounded queue, per-camera counters.
        .target(
            name: "FrameIngest",
            dependencies: ["Protocol", "SystemSupport", "ZeroMQ", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),

        // The TOP-GAN classifier: model loading, folded layers, the per-worker arena, GEMM teams.
        .target(
            name: "Inference", dependencies: ["CBLAS", "CInferenceKernels", "Protocol", "SystemSupport"],
            swiftSettings: swiftSettings),
        // AVX-512 GEMM on weights packed once at load (runtime-dispatched; OpenBLAS otherwise).
        .target(name: "CInferenceKernels"),

        // Off-axis hologram → OPD map → cells, crops, features.
        .target(
            name: "Reconstruction", dependencies: ["Protocol", "FFTWSupport", "SystemSupport", "CFFTW"],
            swiftSettings: swiftSettings),

        // Links each frame's cells into tracks, so that each physical cell is counted once.
        .target(name: "Tracking", dependencies: ["Reconstruction"], swiftSettings: swiftSettings),

        // The rig's digital twin: cell phantoms, hologram formation, flow, ground truth.
        // Its class parameters are JSON files compiled into the binary (hashed for provenance).
        .target(
            name: "Simulator", dependencies: ["Protocol", "FFTWSupport", "SystemSupport", "CFFTW", "ContentHash"],
            resources: [
                .embedInCode("Resources/class-parameters-standard.json"),
                .embedInCode("Resources/class-parameters-nucleus-less-dense.json"),
                .embedInCode("Resources/class-parameters-broad.json"),
            ],
            swiftSettings: swiftSettings),

        // What `flowd run` can be told: config keys, their YAML/environment/command-line loader (also fuzzed).
        .target(
            name: "FlowdConfig",
            dependencies: [
                "FrameIngest", "Protocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings),

        // The live dashboard's page (embedded: no CDN, works offline) and its bounded cell feed.
        .target(
            name: "Dashboard", dependencies: ["Protocol"],
            resources: [
                .embedInCode("Resources/index.html"),
                .embedInCode("Resources/dashboard.js"),
                .embedInCode("Resources/dashboard.css"),
            ],
            swiftSettings: swiftSettings),

        // The daemon: service group, cell pipeline, publishing, recording, control, monitoring, systemd.
        .target(
            name: "FlowDaemon",
            dependencies: [
                "Protocol", "ZeroMQ", "FrameIngest", "Inference", "Reconstruction", "Tracking", "SystemSupport",
                "ContentHash", "FlowdConfig", "CHDF5", "NATS", "Dashboard",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),

        // Tools that drive a daemon from outside: demo, benchmarks, simulated camera, live view, extract.
        .target(
            name: "FlowdTools",
            dependencies: [
                "FlowDaemon", "Protocol", "ZeroMQ", "FrameIngest", "Inference", "Reconstruction", "Tracking", "Simulator",
                "FFTWSupport", "SystemSupport", "CFFTW", "NATS", "Dashboard", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // The `flowd` executable: argument parsing and dispatch only.
        .executableTarget(
            name: "FlowdCLI",
            dependencies: [
                "FlowdTools", "FlowDaemon", "FlowdConfig", "Protocol", "ZeroMQ", "FrameIngest", "Inference", "Reconstruction",
                "Simulator", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        .testTarget(name: "ProtocolTests", dependencies: ["Protocol"], swiftSettings: swiftSettings),
        .testTarget(
            name: "FlowDaemonTests",
            dependencies: [
                "FlowDaemon", "FlowdConfig", "FrameIngest", "Protocol", "Reconstruction", "Simulator", "InferenceTestSupport",
                "CMallocCounter", "Dashboard", "ContentHash",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "FlowdToolsTests", dependencies: ["FlowdTools", "Protocol", "Reconstruction", "Simulator"], swiftSettings: swiftSettings),
        .testTarget(
            name: "FrameIngestTests", dependencies: ["FrameIngest", "ZeroMQ", "Protocol"],
            swiftSettings: swiftSettings),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"], swiftSettings: swiftSettings),

        // Counts heap allocations by wrapping glibc's malloc family (test binary only).
        .target(name: "CMallocCounter", path: "Tests/CMallocCounter"),
        // Tiny classifier files written in tests (InferenceTests, and the daemon's pipeline tests).
        .target(
            name: "InferenceTestSupport", dependencies: ["Inference"], path: "Tests/InferenceTestSupport",
            swiftSettings: swiftSettings),
        .testTarget(
            name: "InferenceTests", dependencies: ["Inference", "InferenceTestSupport", "CMallocCounter"],
            swiftSettings: swiftSettings),

        .testTarget(
            name: "SimulatorTests", dependencies: ["Simulator", "FFTWSupport", "ContentHash"], swiftSettings: swiftSettings),
        .testTarget(name: "ContentHashTests", dependencies: ["ContentHash"], swiftSettings: swiftSettings),
        // A small simulated flow, the fixture of the segmentation and tracking specifications.
        .target(
            name: "TwinFlowTestSupport", dependencies: ["Reconstruction", "Simulator"], path: "Tests/TwinFlowTestSupport",
            swiftSettings: swiftSettings),
        .testTarget(
            name: "ReconstructionTests", dependencies: ["Reconstruction", "Simulator", "TwinFlowTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "TrackingTests", dependencies: ["Tracking", "Reconstruction", "Simulator", "TwinFlowTestSupport"],
            swiftSettings: swiftSettings),
    ]
)
