//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Dispatch

/// The chunk vectors (centroids, `seq` 0) of one model, in one contiguous row-major float32
/// buffer, scanned exactly.
///
/// Vectors are unit length, so the cosine is the dot product. The scan uses 16-wide SIMD with two
/// accumulators and splits large matrices across two threads.
final class VectorMatrix: Sendable {
    /// The index generation the matrix was loaded at.
    let generation: Int64
    let model: String
    let dimensions: Int
    /// The chunk id of each row (a chunk may own several rows).
    let rowChunk: [Int64]
    let data: [Float]
    /// The most rows any chunk owns.
    let maxRowsPerChunk: Int
    /// The first row of each chunk.
    let rowOfChunk: [Int64: Int]

    var count: Int { rowChunk.count }

    init(generation: Int64, model: String, dimensions: Int, rowChunk: [Int64], data: [Float]) {
        precondition(data.count == rowChunk.count * dimensions)
        self.generation = generation
        self.model = model
        self.dimensions = dimensions
        self.rowChunk = rowChunk
        self.data = data
        var most = 1
        var run = 0
        var previous: Int64 = -1
        var rows: [Int64: Int] = [:]
        rows.reserveCapacity(rowChunk.count)
        for (i, c) in rowChunk.enumerated() {
            run = c == previous ? run + 1 : 1
            if run == 1 { rows[c] = i }
            previous = c
            most = max(most, run)
        }
        self.maxRowsPerChunk = most
        self.rowOfChunk = rows
    }

    /// The `k` chunks most similar to `query`, best first (a chunk's score is its best row's).
    func top(_ query: [Float], k: Int) -> [(chunk: Int64, score: Float)] {
        let n = count
        guard n > 0, k > 0, query.count == dimensions else { return [] }
        var scores = [Float](repeating: 0, count: n)
        let dims = dimensions
        data.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in
                scores.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let mp = m.baseAddress!
                    nonisolated(unsafe) let qp = q.baseAddress!
                    nonisolated(unsafe) let op = out.baseAddress!
                    let parts = n * dims >= 1 << 20 ? 2 : 1
                    if parts == 1 {
                        Self.scan(mp, qp, op, rows: 0..<n, dims: dims)
                    } else {
                        DispatchQueue.concurrentPerform(iterations: parts) { p in
                            Self.scan(mp, qp, op, rows: (p * n / parts)..<((p + 1) * n / parts), dims: dims)
                        }
                    }
                }
            }
        }
        // Best rows first; a chunk appears once, with its best row.
        let best = Self.topIndices(scores, k: min(n, k * maxRowsPerChunk))
        var seen = Set<Int64>()
        var out: [(Int64, Float)] = []
        for r in best where seen.insert(rowChunk[r]).inserted {
            out.append((rowChunk[r], scores[r]))
            if out.count == k { break }
        }
        return out
    }

    /// The cosine of a chunk's (first) row with `query`, nil when the chunk has no row.
    func score(of chunk: Int64, _ query: [Float]) -> Float? {
        guard let r = rowOfChunk[chunk], query.count == dimensions else { return nil }
        return data.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in Self.dot(m.baseAddress! + r * dimensions, q.baseAddress!, dimensions) }
        }
    }

    /// The dot product of two vectors of `dims` floats.
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dims: Int) -> Float {
        var out: Float = 0
        withUnsafeMutablePointer(to: &out) { scan(a, b, $0, rows: 0..<1, dims: dims) }
        return out
    }

    /// Dot products of rows with the query.
    private static func scan(
        _ m: UnsafePointer<Float>,
        _ q: UnsafePointer<Float>,
        _ out: UnsafeMutablePointer<Float>,
        rows: Range<Int>,
        dims: Int
    ) {
        let vectorized = dims / 16 * 16
        for r in rows {
            let row = m + r * dims
            var a0 = SIMD16<Float>()
            var a1 = SIMD16<Float>()
            var j = 0
            while j + 32 <= vectorized {
                a0 +=
                    SIMD16<Float>(UnsafeBufferPointer(start: row + j, count: 16))
                    * SIMD16<Float>(UnsafeBufferPointer(start: q + j, count: 16))
                a1 +=
                    SIMD16<Float>(UnsafeBufferPointer(start: row + j + 16, count: 16))
                    * SIMD16<Float>(UnsafeBufferPointer(start: q + j + 16, count: 16))
                j += 32
            }
            var s = (a0 + a1).sum()
            while j < dims {
                s += row[j] * q[j]
                j += 1
            }
            out[r] = s
        }
    }

    /// Indices of the `k` largest values, largest first (ties: lower index first).
    static func topIndices(_ values: [Float], k: Int) -> [Int] {
        guard k > 0 else { return [] }
        // A min-heap of the best k seen so far.
        var heap: [(Float, Int)] = []
        heap.reserveCapacity(k)
        func less(_ a: (Float, Int), _ b: (Float, Int)) -> Bool { a.0 < b.0 || (a.0 == b.0 && a.1 > b.1) }
        func siftDown(_ i0: Int) {
            var i = i0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for (i, v) in values.enumerated() {
            if heap.count < k {
                heap.append((v, i))
                var c = heap.count - 1
                while c > 0 {
                    let p = (c - 1) / 2
                    if less(heap[c], heap[p]) {
                        heap.swapAt(c, p)
                        c = p
                    } else {
                        break
                    }
                }
            } else if less(heap[0], (v, i)) {
                heap[0] = (v, i)
                siftDown(0)
            }
        }
        return heap.sorted { less($1, $0) }.map(\.1)
    }
}
