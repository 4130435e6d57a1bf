// swift-tools-version:6.0
//
// A LocalGPT plugin package, written by `localgpt plugin sdk`. `swift build -c release` builds
// .build/release/libHelloPlugin.so, the library `localgpt plugin package` takes (docs/PLUGIN-ABI.md,
// "Writing a plugin in Swift").

import PackageDescription

let package = Package(
    name: "HelloPlugin",
    products: [
        // One dynamic library per plugin.
        .library(name: "HelloPlugin", type: .dynamic, targets: ["HelloPlugin"])
    ],
    targets: [
        // The plugin ABI: the headers and module map `localgpt plugin sdk` exported into include/.
        .target(name: "CLocalGPTPlugin", path: "include", publicHeadersPath: "."),
        .target(
            name: "HelloPlugin",
            dependencies: ["CLocalGPTPlugin"],
            // The Swift runtime and FoundationEssentials are linked into the library, which then loads into
            // any LocalGPT build. Without this line the plugin shares the host's runtime instead: smaller, but
            // it must then be built by the same Swift release as the host.
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),
    ]
)
