// swift-tools-version:6.2
//
// LocalGPT for Swift: a local AI assistant built as a plugin-host runtime.
// docs/ARCHITECTURE.md describes the modules; docs/PLUGIN-ABI.md the plugin contract.

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let cSettings: [CSetting] = [
    .define("_GNU_SOURCE"),
    .unsafeFlags(["-Wall", "-Wextra"]),
]

let package = Package(
    name: "localgpt",
    products: [
        .executable(name: "localgpt", targets: ["localgpt"]),
        // Started by the host next to which it lies: stops a dead host's leftover commands.
        .executable(name: "localgpt-warden", targets: ["CLocalGPTWarden"]),
        .library(name: "LocalGPTCore", targets: ["LocalGPTCore"]),
        // Runtime plugins: one dynamic library each, loaded by the host through dlopen.
        .library(name: "LocalGPTPluginText", type: .dynamic, targets: ["LocalGPTPluginText"]),
        .library(name: "LocalGPTPluginProviders", type: .dynamic, targets: ["LocalGPTPluginProviders"]),
        .library(name: "LocalGPTPluginTools", type: .dynamic, targets: ["LocalGPTPluginTools"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // The plugin ABI: a header-only C target, the public contract (docs/PLUGIN-ABI.md). Its include/
        // holds a hand-written module.modulemap, which SwiftPM uses and plugin authors pass to swiftc.
        .target(name: "CLocalGPTPlugin"),
        // The plugin author's kit `localgpt plugin sdk` writes: the ABI headers and module map, and the
        // starter package in template/, embedded with #embed (the toolchain's clang) at build time.
        .target(
            name: "CLocalGPTSDK",
            exclude: ["template"],
            cSettings: cSettings
        ),
        // libcurl behind non-variadic shims: the host's HTTP service. libcurl is opened with dlopen on
        // the first request, not linked: linking it loaded ~30 libraries at every start of `localgpt`.
        .target(
            name: "CLocalGPTHTTP",
            cSettings: cSettings
        ),
        // fork/exec of plugin-requested processes (async-signal-safe work only after fork).
        // Landlock, seccomp (libseccomp) and rlimits are applied in the child between fork and exec.
        .target(
            name: "CLocalGPTSandbox",
            cSettings: cSettings,
            linkerSettings: [.linkedLibrary("seccomp")]
        ),
        // The warden: a small program each host starts at its first command (posix_spawn), which
        // outlives the host and kills what its commands left running when it dies (see lgpt_sandbox.h).
        .executableTarget(
            name: "CLocalGPTWarden",
            cSettings: cSettings
        ),
        // The local sentence embedder (all-MiniLM-L6-v2) on OpenBLAS: safetensors reader + BERT forward pass.
        // OpenBLAS is opened with dlopen when the first model loads, not linked (it starts threads at load).
        .target(
            name: "CLocalGPTEmbed",
            cSettings: cSettings + [.unsafeFlags(["-O3"]), .headerSearchPath("."), .define("LGPT_EMBED_OPENBLAS")],
            linkerSettings: [.linkedLibrary("m")]
        ),
        // The host: config, paths, manifests, the plugin loader and registry, permissions, services.
        .target(
            name: "LocalGPTCore",
            dependencies: [
                "CLocalGPTPlugin",
                "CLocalGPTHTTP",
                "CLocalGPTSandbox",
                "CLocalGPTSDK",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: swiftSettings
        ),
        // Memory: the markdown workspace, the SQLite (GRDB, FTS5) index, local embeddings, search.
        .target(
            name: "LocalGPTMemory",
            dependencies: [
                "LocalGPTCore",
                "CLocalGPTEmbed",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The agent runtime: context assembly, the tool loop, sessions, compaction.
        .target(
            name: "LocalGPTAgent",
            dependencies: [
                "LocalGPTCore",
                "LocalGPTMemory",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command line: thin, maps flags onto LocalGPTCore.
        .executableTarget(
            name: "localgpt",
            dependencies: [
                "LocalGPTCore",
                "LocalGPTMemory",
                "LocalGPTAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Bundled runtime plugins (Plugins/<Name>). The C plugin (Plugins/SysInfo) is built by the
        // C compiler from the header alone (see the Makefile), not by SwiftPM.
        .target(
            name: "LocalGPTPluginText",
            dependencies: ["CLocalGPTPlugin"],
            path: "Plugins/Text",
            swiftSettings: swiftSettings
        ),
        // The bundled tools the model uses: bash (sandboxed exec only), read/write/edit_file, web_fetch.
        .target(
            name: "LocalGPTPluginTools",
            dependencies: ["CLocalGPTPlugin"],
            path: "Plugins/Tools",
            swiftSettings: swiftSettings
        ),
        // LLM backends: OpenAI-compatible (also GLM, llama-server), Anthropic, Ollama, Claude CLI, local.
        .target(
            name: "LocalGPTPluginProviders",
            dependencies: ["CLocalGPTPlugin"],
            path: "Plugins/Providers",
            swiftSettings: swiftSettings
        ),

        // Test support shared by the test targets: a loopback HTTP server, temporary homes, fixtures.
        .target(
            name: "LocalGPTTesting",
            dependencies: ["LocalGPTCore"],
            path: "Tests/LocalGPTTesting",
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "LocalGPTCoreTests",
            dependencies: [
                "LocalGPTCore",
                "LocalGPTTesting",
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LocalGPTMemoryTests",
            dependencies: [
                "LocalGPTMemory", "LocalGPTCore", "LocalGPTTesting", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            path: "Tests/LocalGPTMemoryTests",
            exclude: ["Fixtures"],  // read by path (EmbedderTestSupport.decodeFixture), not as bundle resources
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LocalGPTAgentTests",
            dependencies: ["LocalGPTAgent", "LocalGPTCore", "LocalGPTMemory", "LocalGPTTesting"],
            swiftSettings: swiftSettings
        ),
        // Provider plugins against loopback servers that speak each protocol; must not depend on plugin targets.
        .testTarget(
            name: "ProviderPluginTests",
            dependencies: ["LocalGPTCore", "LocalGPTTesting"],
            swiftSettings: swiftSettings
        ),
        // Loads the .so files the build produced; must not depend on plugin targets.
        .testTarget(
            name: "PluginABITests",
            dependencies: [
                "LocalGPTCore",
                "LocalGPTTesting",
                "CLocalGPTPlugin",
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Runs the built `localgpt` binary end to end.
        .testTarget(
            name: "LocalGPTCLITests",
            dependencies: ["LocalGPTCore", "LocalGPTTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
    ]
)
