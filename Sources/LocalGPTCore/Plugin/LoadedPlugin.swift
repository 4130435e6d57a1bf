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
    /// Calls running in the plugin (``enterCall()`` to ``leaveCall()``); ``destroy()`` waits for them.
    let activeCalls = Atomic<Int>(0)
    /// How long ``destroy()`` waits for running calls before it leaves the instance alive instead.
    public static let destroyGracePeriod: Duration = .seconds(5)

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

    /// Registers a call into the plugin; false once the plugin is destroyed (the call must not be
    /// made). Each true is balanced by ``leaveCall()``.
    ///
    /// The counter is raised before `destroyed` is read, and ``destroy()`` sets `destroyed` before it
    /// reads the counter (both sequentially consistent), so either the call sees the plugin destroyed
    /// or `destroy()` sees the call and waits for it.
    func enterCall() -> Bool {
        activeCalls.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if destroyed.load(ordering: .sequentiallyConsistent) {
            activeCalls.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            return false
        }
        return true
    }

    func leaveCall() {
        activeCalls.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// Destroys the instance once, after the calls running in it have returned. A call that does not
    /// return within ``destroyGracePeriod`` (a plugin ignoring cancellation) keeps the instance
    /// alive: leaking it is safe, freeing it under the call is not. Returns whether it was destroyed.
    @discardableResult
    func destroy() -> Bool {
        guard destroyed.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
        else { return false }
        let deadline = ContinuousClock.now + Self.destroyGracePeriod
        while activeCalls.load(ordering: .sequentiallyConsistent) > 0 {
            if ContinuousClock.now >= deadline { return false }
            usleep(1_000)
        }
        if let destroy = descriptor.pointee.destroy {
            withCallLock { destroy(instance) }
        }
        return true
    }
}
