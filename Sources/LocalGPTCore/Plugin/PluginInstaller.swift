//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// Installs and removes plugins in `~/.localgpt/plugins/<id>/` together with their grant in
/// grants.json, so that neither two LocalGPT processes at once nor one killed half way leaves a
/// plugin without its grant, a grant lost, or a plugin gone.
///
/// * **One at a time.** Install and remove hold the plugins lock (``FileLock/path(guarding:)`` of the
///   plugins folder, `~/.localgpt/.plugins.lock`) from the "already installed?" check to the end, so
///   two installs of the same plugin cannot both install it; grants.json has its own lock
///   (``PluginGrantStore/set(_:for:)``), so two installs of different plugins both keep their grant.
/// * **The grant first.** The plugin is copied into a hidden folder `.<id>.installing-<writer>`, its
///   grant is written, and only then is it renamed into place (an installed plugin it replaces is
///   renamed to `.<id>.old-<writer>` first and removed last). Removal renames the plugin to
///   `.<id>.removing-<writer>`, drops the grant, then deletes the folder. `<writer>` is the process's
///   ``ProcessIdentity/token``.
/// * **Leftovers are finished.** Such folders of a process that is gone (``ProcessIdentity/isGone(token:)``)
///   are dealt with under the lock by ``recover(paths:grants:)`` at the next install, removal, and
///   every command that loads plugins: of the interrupted install's new plugin, the installed one
///   and the one it was replacing, the one whose library the (verified) grant names is put in place,
///   else the installed one, else the one being replaced; the others are deleted. A removal's
///   folder is deleted and, with no plugin left under its id, its grant too.
///
/// Only the plugin is copied: `plugin.json` and the library it names, as a regular file (a library
/// that is a symbolic link is copied from what it leads to; an installed plugin must not depend on a
/// file outside its folder). Whatever else the source folder holds (sources, build files) stays.
public enum PluginInstaller {
    /// Why an install or a removal did not happen. Nothing was changed: the plugin and the grants
    /// are as they were.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// A plugin installed in the home.
    public struct Installed: Sendable, Equatable {
        /// Its version, nil when its plugin.json cannot be read.
        public var version: String?
        /// Whether grants.json holds a grant for it (verified or not). A plugin without one was
        /// copied there by hand or left by an install that did not finish: installing replaces it
        /// without `--force`.
        public var hasGrant: Bool
    }

    /// What an install did.
    public struct Outcome: Sendable {
        /// The plugin it replaced, if any.
        public var replaced: Installed?
        /// What the recovery of interrupted installs and removals did first (``recover(paths:grants:)``).
        public var recovered: [String]
    }

    /// The plugin installed under `id`, nil when there is none.
    public static func installed(_ id: String, paths: LocalGPTPaths, grants: [String: PluginGrant]) -> Installed? {
        let target = paths.pluginsDirectory + "/" + id
        var info = stat()
        guard lstat(target, &info) == 0 else { return nil }
        return Installed(
            version: (try? PluginSidecar(directory: target))?.manifest.version,
            hasGrant: grants[id] != nil
        )
    }

    /// Copies the checked plugin of `sidecar` into the plugins folder with `grant`, in the order above.
    ///
    /// - Parameters:
    ///   - sidecar: the checked plugin folder's plugin.json.
    ///   - grant: what the user granted; signed and stored in grants.json.
    ///   - paths: the home.
    ///   - store: grants.json.
    ///   - force: replace a plugin installed under the same id that has a grant (one without a grant
    ///     is replaced anyway).
    /// - Returns: what was replaced, and what the recovery of interrupted installs did first.
    /// - Throws: ``Failure`` when the plugin is installed already (without `force`), the copy or a
    ///   rename fails (a full or read-only disk), the copied library's sha256 is not the one
    ///   plugin.json names (it changed while it was installed), or the grant cannot be written;
    ///   whatever was installed before is kept, with its grant.
    public static func install(
        _ sidecar: PluginSidecar,
        grant: PluginGrant,
        paths: LocalGPTPaths,
        grants store: PluginGrantStore,
        force: Bool
    ) throws(Failure) -> Outcome {
        let directory = paths.pluginsDirectory
        if let reason = makeDirectories(atPath: directory, mode: 0o755) {
            throw Failure("cannot create \(directory): \(reason)")
        }
        return try FileLock.withExclusive(FileLock.path(guarding: directory), failure: Failure.init) {
            () throws(Failure) in
            let recovered = recoverLocked(paths: paths, grants: store)
            let id = sidecar.manifest.id
            let all: [String: PluginGrant]
            do {
                all = try store.load()
            } catch {
                throw Failure("\(error)")
            }
            let existing = installed(id, paths: paths, grants: all)
            if let existing, existing.hasGrant, !force {
                throw Failure(
                    "\(id) \(existing.version ?? "(unreadable)") is already installed in \(directory)/\(id); this "
                        + "folder holds \(sidecar.manifest.version) (use --force to replace it)"
                )
            }
            let token = ProcessIdentity.current.token
            let staging = "\(directory)/.\(id).installing-\(token)"
            try copyPlugin(sidecar, to: staging, pluginsDirectory: directory)
            do {
                try store.set(grant, for: id)
            } catch {
                removeTree(staging)
                throw Failure("cannot record the grant: \(error)")
            }
            // From here on the install is decided: were this process killed now, the next recovery
            // would put the new plugin in place, as its library is the one the grant names.
            let target = "\(directory)/\(id)"
            let old = "\(directory)/.\(id).old-\(token)"
            let previousGrant = all[id]
            func undo(_ what: String, _ error: Int32) -> Failure {
                removeTree(staging)
                try? store.put(previousGrant, for: id)
                return Failure("cannot \(what): \(errnoDescription(error))")
            }
            if existing != nil, rename(target, old) != 0 {
                throw undo("move the installed \(id) aside in \(directory)", errno)
            }
            if rename(staging, target) != 0 {
                let error = errno
                if existing != nil { rename(old, target) }
                throw undo("move \(id) into place in \(directory)", error)
            }
            if existing != nil { removeTree(old) }
            return Outcome(replaced: existing, recovered: recovered)
        }
    }

    /// Removes the plugin installed under `id` and its grant, in the order above.
    ///
    /// - Returns: what the recovery of interrupted installs and removals did first.
    /// - Throws: ``Failure`` when no plugin is installed under `id`, or the grant cannot be removed
    ///   (the plugin is then left in place, with its grant).
    public static func remove(
        _ id: String,
        paths: LocalGPTPaths,
        grants store: PluginGrantStore
    ) throws(Failure)
        -> [String]
    {
        let directory = paths.pluginsDirectory
        let target = "\(directory)/\(id)"
        var info = stat()
        guard !id.isEmpty, !id.contains("/"), id != ".", id != "..", lstat(directory, &info) == 0 else {
            throw notInstalled(id, directory)
        }
        return try FileLock.withExclusive(FileLock.path(guarding: directory), failure: Failure.init) {
            () throws(Failure) in
            let recovered = recoverLocked(paths: paths, grants: store)
            guard lstat(target, &info) == 0 else { throw notInstalled(id, directory) }
            let removing = "\(directory)/.\(id).removing-\(ProcessIdentity.current.token)"
            guard rename(target, removing) == 0 else {
                throw Failure("cannot remove \(target): \(errnoDescription(errno))")
            }
            do {
                try store.remove(id)
            } catch {
                rename(removing, target)
                throw Failure("cannot remove the grant of \(id): \(error)")
            }
            removeTree(removing)
            return recovered
        }
    }

    /// Finishes what installs and removals of processes that are gone left in the plugins folder
    /// (see the type's description), under the plugins lock. Cheap when there is nothing to do: the
    /// folder is read, and the lock taken only when a leftover of a dead process is there.
    ///
    /// - Returns: one line per plugin put back, installed or removed, for the user.
    public static func recover(paths: LocalGPTPaths, grants store: PluginGrantStore) -> [String] {
        let directory = paths.pluginsDirectory
        guard leftovers(in: directory).contains(where: \.writerIsGone) else { return [] }
        let lock = FileLock.path(guarding: directory)
        let notes = try? FileLock.withExclusive(lock, failure: Failure.init) { () throws(Failure) in
            recoverLocked(paths: paths, grants: store)
        }
        return notes ?? ["cannot lock \(lock) to recover interrupted plugin installs"]
    }

    // MARK: Recovery

    /// A hidden folder of an install or a removal in progress, or of one that was interrupted.
    struct Leftover {
        enum Kind: String { case installing, old, removing }
        var name: String
        var id: String
        var kind: Kind
        var writerIsGone: Bool
    }

    /// The `.<id>.<kind>-<writer>` entries of the plugins folder.
    static func leftovers(in directory: String) -> [Leftover] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var out: [Leftover] = []
        while let entry = readdir(d) {
            let name = directoryEntryNameString(entry)
            guard name.hasPrefix("."), let dot = name.lastIndex(of: "."), dot > name.startIndex else { continue }
            let suffix = name[name.index(after: dot)...]
            guard let dash = suffix.firstIndex(of: "-"), let kind = Leftover.Kind(rawValue: String(suffix[..<dash])),
                let gone = ProcessIdentity.isGone(token: suffix[suffix.index(after: dash)...])
            else { continue }
            let id = String(name[name.index(after: name.startIndex)..<dot])
            guard !id.isEmpty else { continue }
            out.append(Leftover(name: name, id: id, kind: kind, writerIsGone: gone))
        }
        return out
    }

    /// ``recover(paths:grants:)`` with the lock held.
    static func recoverLocked(paths: LocalGPTPaths, grants store: PluginGrantStore) -> [String] {
        let directory = paths.pluginsDirectory
        let dead = leftovers(in: directory).filter(\.writerIsGone)
        guard !dead.isEmpty else { return [] }
        let grants = (try? store.load()) ?? [:]
        var notes: [String] = []
        for id in Set(dead.map(\.id)).sorted() {
            let mine = dead.filter { $0.id == id }
            let target = "\(directory)/\(id)"
            var info = stat()
            var hasTarget = lstat(target, &info) == 0
            // The candidates, in order of preference when the grant names none of them.
            let staged = mine.filter { $0.kind == .installing }.map { "\(directory)/\($0.name)" }
            let old = mine.filter { $0.kind == .old }.map { "\(directory)/\($0.name)" }
            var candidates = staged + (hasTarget ? [target] : []) + old
            var winner: String?
            if let grant = grants[id], grant.integrity == .verified {
                winner = candidates.first { holdsLibrary(grant.librarySHA256, folder: $0, id: id) }
            }
            winner = winner ?? (hasTarget ? target : old.first)
            if let chosen = winner, chosen != target {
                // A move that fails (a read-only disk) leaves everything for the next recovery.
                if hasTarget {
                    let aside = "\(directory)/.\(id).old-\(ProcessIdentity.current.token)"
                    guard rename(target, aside) == 0 else { continue }
                    candidates.append(aside)
                }
                guard rename(chosen, target) == 0 else { continue }
                hasTarget = true
                let version = (try? PluginSidecar(directory: target))?.manifest.version ?? "(unreadable)"
                notes.append(
                    staged.contains(chosen)
                        ? "finished installing \(id) \(version) (its install was interrupted after the grant was written)"
                        : "restored \(id) \(version) (an install replacing it was interrupted)"
                )
            }
            for folder in candidates where folder != target { removeTree(folder) }
            for removal in mine where removal.kind == .removing {
                removeTree("\(directory)/\(removal.name)")
                if !hasTarget {
                    try? store.remove(id)
                    notes.append("finished removing \(id) (its removal was interrupted)")
                }
            }
        }
        return notes
    }

    /// Whether `folder` holds a plugin `id` whose library is the one with `sha256`.
    private static func holdsLibrary(_ sha256: String, folder: String, id: String) -> Bool {
        guard let sidecar = try? PluginSidecar(directory: folder), sidecar.manifest.id == id,
            sidecar.librarySHA256 == sha256
        else { return false }
        return sha256Hex(ofFile: sidecar.libraryPath) == sha256
    }

    // MARK: Copying

    /// Copies plugin.json and the library into a new folder `staging`, then checks the copy's sha256.
    /// On failure nothing of `staging` is left.
    private static func copyPlugin(
        _ sidecar: PluginSidecar,
        to staging: String,
        pluginsDirectory: String
    )
        throws(Failure)
    {
        let source = (sidecar.file as NSString).deletingLastPathComponent
        let relative = String(sidecar.libraryPath.dropFirst(source.count + 1))
        removeTree(staging)
        do throws(Failure) {
            guard mkdir(staging, 0o755) == 0 else {
                throw Failure("cannot create a folder in \(pluginsDirectory): \(errnoDescription(errno))")
            }
            try copyFile(sidecar.file, to: staging + "/plugin.json", into: pluginsDirectory)
            let library = staging + "/" + relative
            if let reason = makeDirectories(
                atPath: (library as NSString).deletingLastPathComponent,
                mode: 0o755
            ) {
                throw Failure("cannot create a folder in \(pluginsDirectory): \(reason)")
            }
            try copyFile(sidecar.libraryPath, to: library, into: pluginsDirectory)
            guard sha256Hex(ofFile: library) == sidecar.librarySHA256 else {
                throw Failure(
                    "\(sidecar.libraryPath) changed while it was installed (its sha256 is no longer the one "
                        + "plugin.json names); try again"
                )
            }
        } catch {
            removeTree(staging)
            throw error
        }
    }

    /// Copies the regular file `source` leads to (symbolic links followed) to the new file
    /// `destination` with the source's permission bits, synced.
    private static func copyFile(
        _ source: String,
        to destination: String,
        into pluginsDirectory: String
    )
        throws(Failure)
    {
        let name = (source as NSString).lastPathComponent
        let input = FileIO.retrying { open(source, O_RDONLY | O_CLOEXEC) }
        guard input >= 0 else { throw Failure("cannot read \(source): \(errnoDescription(errno))") }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw Failure("\(source) is not a regular file")
        }
        let output = FileIO.retrying {
            open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, info.st_mode & 0o755)
        }
        guard output >= 0 else {
            throw Failure("cannot copy \(name) into \(pluginsDirectory): \(errnoDescription(errno))")
        }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in
                FileIO.retrying { Glibc.read(input, raw.baseAddress!, raw.count) }
            }
            if n < 0 { throw Failure("cannot read \(source): \(errnoDescription(errno))") }
            if n == 0 { break }
            let error = buffer.withUnsafeBytes { FileIO.writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if error != 0 { throw Failure("cannot copy \(name) into \(pluginsDirectory): \(errnoDescription(error))") }
        }
        if FileIO.retrying({ fsync(output) }) != 0 {
            throw Failure("cannot copy \(name) into \(pluginsDirectory): \(errnoDescription(errno))")
        }
    }

    private static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func notInstalled(_ id: String, _ directory: String) -> Failure {
        Failure(
            "\(id) is not installed in \(directory) (bundled plugins can be turned off with plugins.disabled)"
        )
    }
}
