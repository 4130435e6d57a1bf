//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore
import LocalGPTTesting
import Logging
import Testing

/// The library hash cache saves rehashing an unchanged library, and never hides a changed one.
@Suite struct LibraryHashCacheTests {
    let home: String
    let paths: LocalGPTPaths
    let key: DeviceKey

    init() throws {
        home = TestSupport.makeTemporaryDirectory("lgpt-hashcache")
        paths = LocalGPTPaths(home: home)
        try paths.createDirectories()
        key = try DeviceKey.loadOrCreate(at: paths.deviceKey).key
    }

    func makeCache() -> LibraryHashCache { LibraryHashCache(path: paths.libraryHashCache, deviceKey: key) }

    func makeHost(_ cache: LibraryHashCache) -> PluginHost {
        PluginHost(
            paths: paths,
            configuration: Configuration(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            libraryHashes: cache
        )
    }

    /// Rewrites one byte of `file` in place and puts its size and modification time back, as an
    /// attacker hiding the change would: only the status-change time still tells.
    func tamperInPlace(_ file: String) throws {
        var before = stat()
        #expect(stat(file, &before) == 0)
        let fd = open(file, O_WRONLY)
        #expect(fd >= 0)
        var byte: UInt8 = 0x5A
        #expect(pwrite(fd, &byte, 1, off_t(before.st_size - 1)) == 1)
        var times = [before.st_atim, before.st_mtim]
        #expect(futimens(fd, &times) == 0)
        close(fd)
        var after = stat()
        #expect(stat(file, &after) == 0)
        #expect(after.st_size == before.st_size && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
    }

    @Test func anUnchangedLibraryIsHashedOnceAcrossProcesses() throws {
        let dir = home + "/src/ok"
        let lib = try FixturePlugin().build(in: dir)
        let first = makeCache()
        let loadedFirst = makeHost(first).loadAll([PluginCandidate(directory: dir, origin: .bundled)])
        #expect(loadedFirst.map(\.id) == ["org.test.fixture"])
        #expect(first.filesHashed == 1)
        var info = stat()
        #expect(stat(paths.libraryHashCache, &info) == 0 && info.st_mode & 0o777 == 0o600)

        // A new cache object reads the file, as the next process would.
        let second = makeCache()
        let loaded = makeHost(second).loadAll([PluginCandidate(directory: dir, origin: .bundled)])
        #expect(loaded.map(\.id) == ["org.test.fixture"])
        #expect(second.filesHashed == 0)
        #expect(second.sha256(ofFile: lib) == sha256Hex(ofFile: lib))
    }

    @Test func aLibraryChangedInPlaceIsHashedAgainAndRefused() throws {
        let dir = home + "/src/tampered"
        let lib = try FixturePlugin().build(in: dir)
        let first = makeCache()
        #expect(makeHost(first).loadAll([PluginCandidate(directory: dir, origin: .bundled)]).count == 1)
        try tamperInPlace(lib)

        let second = makeCache()
        let host = makeHost(second)
        let error = #expect(throws: PluginLoadError.self) { try host.load(directory: dir, origin: .bundled) }
        #expect(error?.code == .checksum)
        #expect(second.filesHashed == 1)
    }

    @Test func anEditedCacheEntryIsIgnored() throws {
        let dir = home + "/src/forged"
        let lib = try FixturePlugin().build(in: dir)
        let original = try #require(sha256Hex(ofFile: lib))
        #expect(makeHost(makeCache()).loadAll([PluginCandidate(directory: dir, origin: .bundled)]).count == 1)
        try tamperInPlace(lib)
        let tampered = try #require(sha256Hex(ofFile: lib))
        #expect(tampered != original)

        // The attacker updates the entry to the tampered file's identity but keeps the old hash:
        // without the device key the signature cannot follow.
        var now = stat()
        #expect(stat(lib, &now) == 0)
        var doc = try JSONValue(parsing: try String(contentsOfFile: paths.libraryHashCache, encoding: .utf8))
        guard case .object(var top) = doc, case .object(var libraries) = top["libraries"],
            case .object(var entry) = libraries[lib]
        else {
            Issue.record("unexpected cache file")
            return
        }
        entry["ctime_ns"] = .int(Int64(now.st_ctim.tv_sec) * 1_000_000_000 + Int64(now.st_ctim.tv_nsec))
        libraries[lib] = .object(entry)
        top["libraries"] = .object(libraries)
        doc = .object(top)
        try doc.encoded(pretty: false).write(toFile: paths.libraryHashCache, atomically: true, encoding: .utf8)

        let cache = makeCache()
        #expect(cache.sha256(ofFile: lib) == tampered)
        #expect(cache.filesHashed == 1)
    }

    @Test func aCorruptCacheFileIsIgnored() throws {
        let dir = home + "/src/corrupt"
        let lib = try FixturePlugin().build(in: dir)
        try "{not json".write(toFile: paths.libraryHashCache, atomically: true, encoding: .utf8)
        let cache = makeCache()
        #expect(cache.sha256(ofFile: lib) == sha256Hex(ofFile: lib))
        #expect(cache.sha256(ofFile: home + "/no-such-library.so") == nil)
        cache.save()
        let next = makeCache()
        #expect(next.sha256(ofFile: lib) == sha256Hex(ofFile: lib))
        #expect(next.filesHashed == 0)
    }
}
