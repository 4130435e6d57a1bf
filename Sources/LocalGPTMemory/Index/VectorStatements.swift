//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import GRDB

/// The statements that write a chunk's vectors (`chunk_centroids`, `chunk_windows`; see
/// ``EmbeddingPlan``), prepared once per transaction.
struct VectorStatements {
    private let insertCentroid: Statement
    private let insertWindows: Statement
    private let deleteCentroid: Statement
    private let deleteWindows: Statement

    init(_ db: Database) throws {
        insertCentroid = try db.cachedStatement(sql: "INSERT INTO chunk_centroids(chunk_id, embedding) VALUES (?, ?)")
        insertWindows = try db.cachedStatement(sql: "INSERT INTO chunk_windows(chunk_id, embedding) VALUES (?, ?)")
        deleteCentroid = try db.cachedStatement(sql: "DELETE FROM chunk_centroids WHERE chunk_id = ?")
        deleteWindows = try db.cachedStatement(sql: "DELETE FROM chunk_windows WHERE chunk_id = ?")
    }

    /// Stores the vectors of a chunk that has none.
    func insert(_ chunk: Int64, _ vectors: (centroid: [Float], windows: [Float]?)) throws {
        try insertCentroid.execute(arguments: [chunk, vectors.centroid.blob])
        if let windows = vectors.windows { try insertWindows.execute(arguments: [chunk, windows.blob]) }
    }

    /// Replaces whatever vectors the chunk has (none when `vectors` is nil).
    func replace(_ chunk: Int64, with vectors: (centroid: [Float], windows: [Float]?)?) throws {
        try deleteCentroid.execute(arguments: [chunk])
        try deleteWindows.execute(arguments: [chunk])
        if let vectors { try insert(chunk, vectors) }
    }
}
