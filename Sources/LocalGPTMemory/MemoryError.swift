//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import GRDB

/// Why a memory operation failed. Messages name files and causes, never memory contents.
public struct MemoryError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidArgument, notFound, pathOutsideWorkspace, io, database, embedding, notAFile, tooLarge
        }
        private let base: Base
        public var description: String { base.rawValue }

        /// The request itself is wrong (empty path, bad limit, NUL byte...).
        public static let invalidArgument = Code(base: .invalidArgument)
        /// The file does not exist.
        public static let notFound = Code(base: .notFound)
        /// The path leaves the workspace (`..`, an absolute path elsewhere, a symlink pointing out).
        public static let pathOutsideWorkspace = Code(base: .pathOutsideWorkspace)
        /// Reading or writing a file failed.
        public static let io = Code(base: .io)
        /// The SQLite index failed.
        public static let database = Code(base: .database)
        /// The embedder failed.
        public static let embedding = Code(base: .embedding)
        /// The path names a folder or a special file.
        public static let notAFile = Code(base: .notAFile)
        /// The input is larger than accepted.
        public static let tooLarge = Code(base: .tooLarge)
    }

    public var code: Code
    public var message: String
    /// The underlying error (a GRDB `DatabaseError`, an errno...), if any.
    public var underlying: (any Error)?

    public var description: String { message }

    public init(code: Code, message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    static func invalidArgument(_ message: String) -> MemoryError { .init(code: .invalidArgument, message: message) }
    static func notFound(_ message: String) -> MemoryError { .init(code: .notFound, message: message) }
    static func outside(_ message: String) -> MemoryError { .init(code: .pathOutsideWorkspace, message: message) }
    static func io(_ message: String, underlying: (any Error)? = nil) -> MemoryError {
        .init(code: .io, message: message, underlying: underlying)
    }
    static func embedding(_ message: String, underlying: (any Error)? = nil) -> MemoryError {
        .init(code: .embedding, message: message, underlying: underlying)
    }

    /// Wraps a database failure. GRDB redacts statement arguments, so no memory text leaks. A
    /// database failure already described (opening the index, a nested read) is kept as it is.
    static func database(_ action: String, _ error: any Error) -> MemoryError {
        if let e = error as? MemoryError, e.code == .database { return e }
        return .init(
            code: .database,
            message: "memory index: \(action) failed: \(Self.describe(error))",
            underlying: error
        )
    }

    /// True when SQLite found the index file damaged (not a database, or a corrupt page).
    var isIndexDamage: Bool {
        guard code == .database, let e = underlying as? DatabaseError else { return false }
        return MemoryIndex.isDamage(e)
    }

    /// A GRDB error's code and SQLite message only (never the statement's arguments).
    static func describe(_ error: any Error) -> String {
        if let e = error as? MemoryError { return e.message }
        if let e = error as? DatabaseError, e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED {
            return "another process (a `memory reindex`, the daemon) has kept the index locked for "
                + "\(MemoryIndex.busyTimeoutSeconds) seconds; try again when it is done"
        }
        return String(describing: error).split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}
