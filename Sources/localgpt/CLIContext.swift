//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTAgent
import LocalGPTCore
import Logging

/// What a command needs: paths, configuration, a logger, and (on demand) the plugin host.
struct CLIContext {
    let paths: LocalGPTPaths
    let configuration: Configuration
    let logger: Logger
    /// The configuration's secret values, hidden in everything written: the log, the audit log,
    /// sessions, memory notes, provider errors. Built once, here.
    let secretMasker: SecretMasker

    static func make(_ options: GlobalOptions) throws -> CLIContext {
        let configuration: Configuration
        let paths: LocalGPTPaths
        do {
            (paths, configuration) = try loadPaths()
        } catch {
            throw CLIError(error.description)
        }
        for warning in configuration.typeWarnings { printError("warning: config.toml: \(warning)") }
        let secretMasker = SecretMasker(configuration: configuration)
        let logger = bootstrapLogging(
            paths: paths,
            configuration: configuration,
            secretMasker: secretMasker,
            verbose: options.verbose
        )
        return CLIContext(paths: paths, configuration: configuration, logger: logger, secretMasker: secretMasker)
    }

    /// The home (`LOCALGPT_HOME`), its config.toml (created from the template when missing), and the
    /// paths with the workspace they choose (``LocalGPTPaths/resolvingWorkspace(configuration:environment:)``).
    static func loadPaths() throws(ConfigurationError) -> (LocalGPTPaths, Configuration) {
        let home = LocalGPTPaths.fromEnvironment()
        let configuration = try Configuration.load(paths: home)
        return (home.resolvingWorkspace(configuration: configuration), configuration)
    }

    private static func bootstrapLogging(
        paths: LocalGPTPaths,
        configuration: Configuration,
        secretMasker: SecretMasker,
        verbose: Bool
    ) -> Logger {
        let fileLevel = Logger.Level(name: configuration.logLevel) ?? .info
        let file = LogFile(path: paths.agentLog, level: verbose ? .debug : fileLevel)
        let stderrLevel: Logger.Level = verbose ? .debug : .warning
        LoggingSystem.bootstrap { label in
            LocalGPTLogHandler(
                label: label,
                stderrLevel: stderrLevel,
                fileLevel: file?.level ?? fileLevel,
                file: file,
                secretMasker: secretMasker
            )
        }
        return Logger(label: "localgpt")
    }

    /// The device key when it exists and is sound, else why not. Never creates it.
    var deviceKey: Result<DeviceKey, SecurityError> {
        Result { () throws(SecurityError) in try DeviceKey.load(from: paths.deviceKey) }
    }

    /// The grants file, verified with the device key.
    var grantStore: PluginGrantStore { PluginGrantStore(path: paths.grantsFile, key: deviceKey) }

    /// The audit log (`~/.localgpt/.security_audit.jsonl`).
    var auditLog: AuditLog { AuditLog(paths: paths, secretMasker: secretMasker) }

    /// The agent's sessions (`~/.localgpt/agents/main/sessions`), written and shown masked.
    var sessionStore: SessionStore { SessionStore(paths: paths, secretMasker: secretMasker) }

    /// A host with every discovered plugin loaded (failures recorded, never fatal). Grants are
    /// verified with the device key (a plugin whose grant fails is refused) and the host's
    /// security events go to the audit log.
    func makeHost() throws -> PluginHost {
        let key = deviceKey
        let store = PluginGrantStore(path: paths.grantsFile, key: key)
        // An install or removal of a LocalGPT process killed half way: finished or undone, before the
        // grants are read.
        for note in PluginInstaller.recover(paths: paths, grants: store) { printError("note: plugins: \(note)") }
        let grants: [String: PluginGrant]
        do {
            grants = try store.load()
        } catch {
            throw CLIError(error.description)
        }
        let host = PluginHost(
            paths: paths,
            configuration: configuration,
            grants: grants,
            logger: logger,
            securityEvents: AuditRecorder(log: auditLog, logger: logger),
            memory: makeMemoryService(),
            libraryHashes: (try? key.get()).map { LibraryHashCache(path: paths.libraryHashCache, deviceKey: $0) },
            secretMasker: secretMasker
        )
        // Before anything reads the workspace: a command of a LocalGPT process killed mid-run may
        // still be running, and may have changed IDENTITY.md or the policy.
        host.recoverProtectedFiles()
        host.loadAll(
            PluginDiscovery.candidates(
                paths: paths,
                configuration: configuration,
                bundledDirectory: PluginDiscovery.defaultBundledDirectory()
            )
        )
        return host
    }

    /// Kills what commands of a LocalGPT process that died mid-run left running and puts back the
    /// protected files they changed, logged and audited as ``makeHost()`` does (for commands that
    /// need no plugin: `md sign`, `sandbox recover`).
    func recoverProtectedFiles() {
        recoveryHost.recoverProtectedFiles()
    }

    /// Logs and audits a recovery the guard did on its own (``ProtectedFileGuard/commit(_:)``).
    func report(_ recovery: ProtectedFileGuard.Recovery) {
        recoveryHost.reportRecovery(recovery)
    }

    /// A host without plugins or grants: what recovering protected files needs.
    private var recoveryHost: PluginHost {
        PluginHost(
            paths: paths,
            configuration: configuration,
            logger: logger,
            securityEvents: AuditRecorder(log: auditLog, logger: logger),
            secretMasker: secretMasker
        )
    }
}

/// A failure reported to the user as `Error: <message>` with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// `text` (a file name from the user's disk) with its control characters shown as `?`, as `ls`
/// shows them: a name holding ESC or a newline must not drive the terminal or forge a line.
func printable(_ text: String) -> String {
    DisplayText.replacingControlCharacters(text, with: "?")
}

/// Prints to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

extension Error {
    /// The one-line text shown to the user: the error's own description when it has one.
    var message: String { String(describing: self) }
}

/// A new, empty scratch folder `<tmp>/<prefix>.XXXXXX` for the hidden bench commands; the caller removes it.
func makeScratchDirectory(_ prefix: String) throws -> String {
    var template = Array("\(NSTemporaryDirectory())/\(prefix).XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw CLIError("cannot create a scratch folder in \(NSTemporaryDirectory())")
    }
    return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
