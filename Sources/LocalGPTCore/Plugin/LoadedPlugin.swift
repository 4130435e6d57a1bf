//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTPlugin
import Foundation
import Synchronization

/// Where a plugin was found.
public enum PluginOrigin: String, Sendable, CaseIterable {
    /// Built with the project and shipped next to the `localgpt` binary.
    case bundled
    /// Installed with `localgpt plugin install` into `~/.localgpt/plugins/<id>/`.
    case user
    /// Listed in `plugins.paths` of config.toml.
    case config
}

/// A plugin the host has loaded and created. It stays loaded for the life of the process: the
/// host never unloads a library (a Swift plugin crashes the host after `dlclose`).
///
/// `@unchecked Sendable`: the stored properties are immutable after init except `instance`,
/// which is written once by the loader before the plugin is published to other threads.
public final class LoadedPlugin: @unchecked Sendable {
    public let manifest: PluginManifest
    public let origin: PluginOrigin
    /// The folder holding plugin.json.
    public let directory: String
    public let libraryPath: String
    public let librarySHA256: String
    /// Declared in the manifest and granted by the user: what the host services allow.
    public let granted: PluginPermissions
    /// Tool name -> compiled argument schema.
    let schemas: [String: JSONSchema]
    let descriptor: UnsafePointer<lgpt_plugin_v1>
    /// The per-plugin host table; its host_ctx points back at this object.
    let hostTable: UnsafeMutablePointer<lgpt_host_v1>
    var instance: UnsafeMutableRawPointer?
    /// Held around every call into a plugin whose manifest says "concurrency": "serial".
    let serialLock: NSLock?
    unowned(unsafe) let host: PluginHost
    let destroyed = Atomic<Bool>(false)

    init(
        manifest: PluginManifest,
        origin: PluginOrigin,
        directory: String,
        libraryPath: String,
        librarySHA256: String,
        granted: PluginPermissions,
        schemas: [String: JSONSchema],
        descriptor: UnsafePointer<lgpt_plugin_v1>,
        host: PluginHost
    ) {
        self.manifest = manifest
        self.origin = origin
        self.directory = directory
        self.libraryPath = libraryPath
        self.librarySHA256 = librarySHA256
        self.granted = granted
        self.schemas = schemas
        self.descriptor = descriptor
        self.serialLock = manifest.isSerial ? NSLock() : nil
        self.host = host
        self.hostTable = UnsafeMutablePointer<lgpt_host_v1>.allocate(capacity: 1)
        self.hostTable.initialize(to: HostServices.makeTable(context: nil))
        self.hostTable.pointee.host_ctx = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        hostTable.deinitialize(count: 1)
        hostTable.deallocate()
    }

    public var id: String { manifest.id }

    /// Runs `body` holding the serial lock when the plugin asked for serial calls.
    @inline(__always)
    func withCallLock<R>(_ body: () -> R) -> R {
        guard let lock = serialLock else { return body() }
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Calls the plugin's destroy() once.
    func destroy() {
        guard destroyed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        if let destroy = descriptor.pointee.destroy {
            withCallLock { destroy(instance) }
        }
    }
}
