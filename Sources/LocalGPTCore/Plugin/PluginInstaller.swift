//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation

/// Copies a checked plugin folder into `~/.localgpt/plugins/<id>/` so that a reader never sees a
/// half-copied plugin: the copy goes to a hidden temporary folder first and is renamed into place.
public enum PluginInstaller {
    /// - Throws: when the copy or the rename fails; the previous install (if any) is kept then.
    public static func install(from source: String, id: String, into pluginsDirectory: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: pluginsDirectory, withIntermediateDirectories: true)
        let staging = pluginsDirectory + "/.\(id).installing-\(getpid())"
        try? fm.removeItem(atPath: staging)
        try fm.copyItem(atPath: source, toPath: staging)
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
