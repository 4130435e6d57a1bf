//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTSDK
import Foundation

/// The plugin author's kit that `localgpt plugin sdk` writes into a folder:
///
///     include/lgpt_plugin.h, include/lgpt_host_files.h   the ABI headers (cc -I include)
///     include/module.modulemap                           the Clang module CLocalGPTPlugin (swiftc -I include)
///     Package.swift, Sources/HelloPlugin/HelloPlugin.swift   a starter SwiftPM package: one Swift tool plugin
///
/// The files are the ones this binary was built with (embedded by CLocalGPTSDK), so a plugin built against
/// them has exactly this host's ABI. docs/PLUGIN-ABI.md §6 and §7 use them.
public enum PluginSDK {
    /// One file of the kit.
    public struct File: Sendable {
        /// Relative to the kit's folder, `/`-separated.
        public let path: String
        public let contents: [UInt8]
        /// A starter file becomes the author's once written: it is never replaced. The ABI files (`include/`)
        /// are the host's and are replaced on every export.
        public let isStarter: Bool
    }

    /// What an export did, by relative path.
    public struct Report: Sendable, Equatable {
        /// Files written (created or replaced).
        public var written: [String] = []
        /// Starter files left as they were, because they already existed.
        public var kept: [String] = []
    }

    /// Every file of the kit, in the order they are written.
    public static let files: [File] = (0..<lgpt_sdk_file_count()).compactMap { index in
        guard let file = lgpt_sdk_file_at(index)?.pointee else { return nil }
        return File(
            path: String(cString: file.path),
            contents: Array(UnsafeBufferPointer(start: file.bytes, count: file.len)),
            isStarter: file.starter != 0
        )
    }

    /// Writes the kit into `directory`, creating it and its subfolders as needed. The ABI files are always
    /// written; the starter files only where no file of that name exists yet, and not at all when
    /// `headersOnly` is set. Running it again over a plugin package therefore refreshes its headers and
    /// keeps the author's sources.
    ///
    /// - Throws: ``ConfigurationError`` (`.io`) naming the file that could not be written.
    @discardableResult
    public static func export(to directory: String, headersOnly: Bool = false) throws(ConfigurationError) -> Report {
        let root = LocalGPTPaths.absolutePath(directory)
        var report = Report()
        for file in files where !(headersOnly && file.isStarter) {
            let target = root + "/" + file.path
            if file.isStarter && FileSystem.exists(target) {
                report.kept.append(file.path)
                continue
            }
            try FileSystem.createDirectory((target as NSString).deletingLastPathComponent, mode: 0o755)
            try FileSystem.writeAtomically(Data(file.contents), to: target, mode: 0o644)
            report.written.append(file.path)
        }
        return report
    }
}
