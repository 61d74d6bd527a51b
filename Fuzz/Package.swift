// swift-tools-version: 6.1
//
// libFuzzer targets for flowd's parsers of untrusted input (docs/reliability.md): the
// frame decoder (camera messages), the model loader (safetensors + topgan metadata) and the
// config loader (YAML, environment, --set). A package of its own so that the root package's
// `swift build` and `swift test` never see them: they link libFuzzer, so they only build with
// `-sanitize=fuzzer`. Build and run them with scripts/fuzz.

import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory, so the root package's name is that of
/// the checkout (flowd, or a worktree's name).
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "flowd-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .systemLibrary(name: "CLibFuzzer"),
        .executableTarget(
            name: "FuzzFrameDecoder", dependencies: ["CLibFuzzer", .product(name: "Protocol", package: root.lastPathComponent)],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "FuzzModelLoader", dependencies: ["CLibFuzzer", .product(name: "Inference", package: root.lastPathComponent)],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "FuzzConfigLoader", dependencies: ["CLibFuzzer", .product(name: "FlowdConfig", package: root.lastPathComponent)],
            swiftSettings: swiftSettings),
    ]
)
