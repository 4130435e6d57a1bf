//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Foundation
import Glibc
import LocalGPTCore

/// The chat prompt's line editing and history: arrow keys, Ctrl-R, and the lines of earlier chats,
/// kept in `<home>/chat_history` (mode 0600, the last 1,000 lines).
///
/// It uses the system's libedit (`libedit.so.2`, Debian's `libedit2`), opened with `dlopen` when a
/// chat starts on a terminal, so that no other command pays for loading it and a machine without it
/// still chats. Without a terminal (a pipe, a test) or without libedit, lines are read with
/// `readLine()` and nothing is recorded.
final class LineEditor {
    private typealias ReadlineFunction = @convention(c) (UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>?
    private typealias HistoryFileFunction = @convention(c) (UnsafePointer<CChar>?) -> Int32
    private typealias AddHistoryFunction = @convention(c) (UnsafePointer<CChar>?) -> Int32
    private typealias StifleFunction = @convention(c) (Int32) -> Void

    private struct Library {
        var readline: ReadlineFunction
        var addHistory: AddHistoryFunction
        var readHistory: HistoryFileFunction
        var writeHistory: HistoryFileFunction
        var stifle: StifleFunction
    }

    static let historyLimit: Int32 = 1000

    private let library: Library?
    private let historyFile: String
    private let secretMasker: SecretMasker

    /// - Parameters:
    ///   - historyFile: where the history lives.
    ///   - secretMasker: the secret values recorded as `********` (a key pasted into the chat).
    ///   - environment: `LOCALGPT_NO_LINE_EDITING=1` turns line editing off.
    init(
        historyFile: String,
        secretMasker: SecretMasker,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.historyFile = historyFile
        self.secretMasker = secretMasker
        let terminal = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        let disabled = environment["LOCALGPT_NO_LINE_EDITING"].map { !$0.isEmpty } ?? false
        library = terminal && !disabled ? Self.load() : nil
        if let library {
            library.stifle(Self.historyLimit)
            let fd = open(historyFile, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
            _ = historyFile.withCString { library.readHistory($0) }
        }
    }

    /// Whether lines are edited and recorded (libedit on a terminal).
    var isEditing: Bool { library != nil }

    /// Reads one line after printing `prompt`; nil at the end of input (Ctrl-D).
    func readLine(prompt: String) -> String? {
        guard let library else {
            FileHandle.standardOutput.write(Data(prompt.utf8))
            return standardInputLine()
        }
        guard let raw = prompt.withCString({ library.readline($0) }) else { return nil }
        defer { free(raw) }
        let line = String(decoding: UnsafeRawBufferPointer(start: raw, count: strlen(raw)), as: UTF8.self)
        if !line.allSatisfy(\.isWhitespace) {
            _ = secretMasker.mask(line).withCString { library.addHistory($0) }
            _ = historyFile.withCString { library.writeHistory($0) }
        }
        return line
    }

    private static func load() -> Library? {
        guard let handle = dlopen("libedit.so.2", RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            guard let pointer = dlsym(handle, name) else { return nil }
            return unsafeBitCast(pointer, to: type)
        }
        guard let readline = symbol("readline", as: ReadlineFunction.self),
            let addHistory = symbol("add_history", as: AddHistoryFunction.self),
            let readHistory = symbol("read_history", as: HistoryFileFunction.self),
            let writeHistory = symbol("write_history", as: HistoryFileFunction.self),
            let stifle = symbol("stifle_history", as: StifleFunction.self)
        else { return nil }
        return Library(
            readline: readline,
            addHistory: addHistory,
            readHistory: readHistory,
            writeHistory: writeHistory,
            stifle: stifle
        )
    }
}

/// `readLine()` that ends at the end of input whatever `errno` holds. The standard library retries
/// `getline` while `errno` is `EINTR`, and `getline` leaves `errno` alone at the end of input: after a
/// turn cancelled by Ctrl-C left `EINTR` there, a chat whose input then ended spun at 100 % CPU
/// forever.
func standardInputLine() -> String? {
    errno = 0
    return readLine()
}
