//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc

/// Copies a checked plugin into `~/.localgpt/plugins/<id>/` so that a reader never sees a
/// half-copied plugin: the copy goes to a hidden temporary folder first and is renamed into place.
///
/// Only the plugin is copied: `plugin.json` and the library it names, as a regular file (a library
/// that is a symbolic link is copied from what it leads to; an installed plugin must not depend on a
/// file outside its folder). Whatever else the source folder holds (sources, build files) stays.
public enum PluginInstaller {
    /// - Throws: when the copy or the rename fails, or the copied library's sha256 is not the one
    ///   plugin.json names (it changed while it was installed); the previous install (if any) is kept.
    public static func install(_ sidecar: PluginSidecar, into pluginsDirectory: String) throws {
        let fm = FileManager.default
        let id = sidecar.manifest.id
        let source = (sidecar.file as NSString).deletingLastPathComponent
        let relative = String(sidecar.libraryPath.dropFirst(source.count + 1))
        try fm.createDirectory(atPath: pluginsDirectory, withIntermediateDirectories: true)
        let staging = pluginsDirectory + "/.\(id).installing-\(getpid())"
        try? fm.removeItem(atPath: staging)
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            try fm.copyItem(atPath: sidecar.file, toPath: staging + "/plugin.json")
            let library = staging + "/" + relative
            try fm.createDirectory(
                atPath: (library as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            try fm.copyItem(atPath: (sidecar.libraryPath as NSString).resolvingSymlinksInPath, toPath: library)
            guard sha256Hex(ofFile: library) == sidecar.librarySHA256 else {
                throw PluginLoadError(
                    .checksum,
                    file: sidecar.libraryPath,
                    "changed while it was installed (its sha256 is no longer the one plugin.json names); try again"
                )
            }
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
        let target = pluginsDirectory + "/" + id
        let old = pluginsDirectory + "/.\(id).old-\(getpid())"
        if fm.fileExists(atPath: target) {
            try fm.moveItem(atPath: target, toPath: old)
        }
        do {
            try fm.moveItem(atPath: staging, toPath: target)
        } catch {
            if fm.fileExists(atPath: old) { try? fm.moveItem(atPath: old, toPath: target) }
            try? fm.removeItem(atPath: staging)
            throw error
        }
        try? fm.removeItem(atPath: old)
    }
}
