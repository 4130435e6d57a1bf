//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
public import Logging

/// Writes log lines to standard error (for the person at the terminal) and appends them to a
/// log file (`~/.localgpt/logs/agent.log`), each with its own level.
///
/// Lines are `2026-11-21T20:15:03.123Z warning [plugin.id=org.x service=exec] DENIED exec rm`.
/// Each line is written with one `write(2)` on an `O_APPEND` descriptor, so lines from several
/// processes never interleave. The message and the metadata pass through the
/// ``SecretMasker`` first: a configured key that a tool argument or a plugin's message carries is
/// written as `********`.
public struct LocalGPTLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let stderrLevel: Logger.Level
    private let file: LogFile?
    private let secretMasker: SecretMasker

    /// - Parameters:
    ///   - label: the logger's label.
    ///   - stderrLevel: lowest level echoed to standard error.
    ///   - fileLevel: lowest level written to the file.
    ///   - file: the shared log file, or nil for standard error only.
    ///   - secretMasker: the secret values hidden in every line (``SecretMasker/init(configuration:)``).
    public init(
        label: String,
        stderrLevel: Logger.Level,
        fileLevel: Logger.Level,
        file: LogFile?,
        secretMasker: SecretMasker = SecretMasker()
    ) {
        self.label = label
        self.stderrLevel = stderrLevel
        self.file = file
        self.secretMasker = secretMasker
        self.logLevel = file == nil ? stderrLevel : min(stderrLevel, fileLevel)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let meta = secretMasker.mask(
            merged.isEmpty
                ? ""
                : " [" + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") + "]"
        )
        let message = secretMasker.mask(event.message.description)
        if event.level >= stderrLevel {
            let line = "\(event.level): \(message)\(meta)\n"
            line.withCString { _ = Glibc.write(2, $0, strlen($0)) }
        }
        if let file, event.level >= file.level {
            file.append("\(Self.timestamp()) \(event.level)\(meta) \(message)\n")
        }
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var secs = ts.tv_sec
        gmtime_r(&secs, &t)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            t.tm_year + 1900,
            t.tm_mon + 1,
            t.tm_mday,
            t.tm_hour,
            t.tm_min,
            t.tm_sec,
            Int(ts.tv_nsec / 1_000_000)
        )
    }
}

/// An append-only log file, opened once and shared by every logger of the process.
public final class LogFile: Sendable {
    private let fd: Int32
    public let level: Logger.Level
    public let path: String

    /// Opens (creating, mode 0600) `path` for appending; nil when that is not possible.
    public init?(path: String, level: Logger.Level) {
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.level = level
        self.path = path
    }

    func append(_ line: String) {
        line.withCString { _ = Glibc.write(fd, $0, strlen($0)) }
    }

    deinit { close(fd) }
}

extension Logger.Level {
    /// Parses `debug`, `info`, `warning`/`warn`, `error` (and swift-log's other names).
    public init?(name: String) {
        switch name.lowercased() {
        case "warn": self = .warning
        default:
            guard let l = Logger.Level(rawValue: name.lowercased()) else { return nil }
            self = l
        }
    }
}
