//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTEmbed
import Dispatch
import Synchronization

/// The chunk vectors (centroids, `chunk_centroids`) of one model, in one contiguous row-major
/// float32 buffer, searched exactly.
///
/// Vectors are unit length, so the cosine is the dot product. The scan uses 16-wide SIMD with two
/// accumulators and splits large matrices across two threads.
///
/// A large matrix (``quantizedFrom`` values or more) also keeps an int8 copy (a scale per row),
/// a quarter of the bytes: the float32 scan of 110,000 × 384 reads 170 MB per query and runs at
/// the machine's memory bandwidth. ``top(_:k:parallel:)`` then scans the int8 copy against an
/// int8 query (``PrefilteredScan``, the AVX-512 VNNI or AVX2 kernel of CLocalGPTEmbed), bounds each
/// row's error (``Quantized``), and computes the float32 product only for the rows whose upper
/// bound reaches the k-th best lower bound. The result is the exact scan's, row for row and in the
/// same order: a row of the exact top k always has an upper bound at or above it.
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
    /// The int8 copy, for matrices of at least ``quantizedFrom`` values.
    let quantized: Quantized?

    /// Matrices of at least this many values (rows × dimensions) are pre-filtered in int8.
    static let quantizedFrom = 1 << 22

    /// Each row `x` as `scale * codes` with codes in -127...127, and what bounds the error of a
    /// product computed from them: for a query `y` quantized the same way (`t * p`),
    /// `|x·y - scale * t * (codes·p)| <= t/2 * |x|₁ + scale/2 * t * |p|₁`.
    struct Quantized: Sendable {
        let codes: [Int8]
        let scales: [Float]
        /// The L1 norm of each float32 row.
        let l1: [Float]
    }

    var count: Int { rowChunk.count }

    /// Matrices of at least `quantizeFrom` values keep an int8 copy (``quantizedFrom`` except in tests).
    init(
        generation: Int64,
        model: String,
        dimensions: Int,
        rowChunk: [Int64],
        data: [Float],
        quantizeFrom: Int = quantizedFrom
    ) {
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
        self.quantized = data.count >= quantizeFrom ? Self.quantize(data, dimensions: dimensions) : nil
    }

    static func quantize(_ data: [Float], dimensions dims: Int) -> Quantized {
        let n = data.count / dims
        var codes = [Int8](repeating: 0, count: data.count)
        var scales = [Float](repeating: 0, count: n)
        var l1 = [Float](repeating: 0, count: n)
        data.withUnsafeBufferPointer { m in
            for r in 0..<n {
                let row = m.baseAddress! + r * dims
                var most: Float = 0
                var sum: Float = 0
                for j in 0..<dims {
                    most = max(most, abs(row[j]))
                    sum += abs(row[j])
                }
                l1[r] = sum
                guard most > 0 else { continue }
                let scale = most / 127
                scales[r] = scale
                for j in 0..<dims { codes[r * dims + j] = Int8(max(-127, min(127, (row[j] / scale).rounded()))) }
            }
        }
        return Quantized(codes: codes, scales: scales, l1: l1)
    }

    /// The `k` chunks most similar to `query`, best first (a chunk's score is its best row's).
    /// A large matrix is scanned by two threads, or by the caller's alone when `parallel` is false.
    func top(_ query: [Float], k: Int, parallel: Bool = true) -> [(chunk: Int64, score: Float)] {
        let n = count
        guard n > 0, k > 0, query.count == dimensions else { return [] }
        if let scan = PrefilteredScan(self, query: query, k: k) {
            if parallel { scan.startHelper() }
            return scan.finish()
        }
        let threads = parallel ? 2 : 1
        var scores = [Float](repeating: 0, count: n)
        let dims = dimensions
        data.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in
                scores.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let mp = m.baseAddress!
                    nonisolated(unsafe) let qp = q.baseAddress!
                    nonisolated(unsafe) let op = out.baseAddress!
                    let parts = n * dims >= 1 << 20 ? threads : 1
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

/// The int8 pre-filtered scan of a large matrix (``VectorMatrix/quantized``), in blocks of rows
/// that any thread may take: ``startHelper()`` puts another thread on it, and ``finish()`` has
/// the caller take the blocks left, then wait for the helper if it is running. A helper that has
/// not started by then is called off, so the scan never waits for a free thread (the caller may
/// itself hold the last one the global queue has). The hybrid search starts a helper,
/// runs its keyword stage meanwhile, then joins the scan.
///
/// The bounds: with the query quantized as `t * p` (codes in -127...127), each row's float32
/// product lies within `estimate ± error` (``VectorMatrix/Quantized``). Every row of the exact top
/// `wanted` has an upper bound at or above the `wanted`-th best lower bound, so the float32
/// product of those rows alone gives the exact scan's result, row for row and in the same order.
final class PrefilteredScan: @unchecked Sendable {
    private let matrix: VectorMatrix
    private let quantized: VectorMatrix.Quantized
    private let query: [Float]
    private let codes: [Int16]
    private let t: Float
    private let codesL1: Float
    private let k: Int
    /// Written block by block, each block by one thread; read by ``finish()`` once the helper,
    /// if it ran, has signalled.
    private let lower: UnsafeMutableBufferPointer<Float>
    private let upper: UnsafeMutableBufferPointer<Float>
    private let nextBlock = Atomic<Int>(0)
    private let helperDone = DispatchSemaphore(value: 0)
    /// The helper: none, started (queued), running, or called off before it ran.
    private let helper = Atomic<Int>(HelperState.none)

    private enum HelperState {
        static let none = 0
        static let queued = 1
        static let running = 2
        static let calledOff = 3
    }

    /// Rows per block: ~0.8 MB of int8 codes for 384 dimensions.
    static let blockRows = 2_048
    /// Float rounding of the bounds themselves and of the float32 products.
    static let slack: Float = 1e-4

    /// Nil when the matrix has no int8 copy, or the query cannot be quantized (all zero or not
    /// finite).
    init?(_ matrix: VectorMatrix, query: [Float], k: Int) {
        guard let quantized = matrix.quantized else { return nil }
        let most = query.reduce(0) { max($0, abs($1)) }
        guard most > 0, most.isFinite else { return nil }
        let t = most / 127
        let codes = query.map { Int16(max(-127, min(127, ($0 / t).rounded()))) }
        self.matrix = matrix
        self.quantized = quantized
        self.query = query
        self.codes = codes
        self.t = t
        self.codesL1 = Float(codes.reduce(0) { $0 + Int($1.magnitude) })
        self.k = k
        lower = .allocate(capacity: matrix.count)
        upper = .allocate(capacity: matrix.count)
    }

    deinit {
        lower.deallocate()
        upper.deallocate()
    }

    /// Puts a thread of the global queue on the scan (once).
    func startHelper() {
        guard
            helper.compareExchange(expected: HelperState.none, desired: HelperState.queued, ordering: .relaxed)
                .exchanged
        else { return }
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            guard
                helper.compareExchange(
                    expected: HelperState.queued,
                    desired: HelperState.running,
                    ordering: .acquiringAndReleasing
                ).exchanged
            else { return }
            work()
            helperDone.signal()
        }
    }

    /// Takes blocks until none is left.
    private func work() {
        let n = matrix.count
        let dims = matrix.dimensions
        while true {
            let first = nextBlock.add(1, ordering: .relaxed).oldValue * Self.blockRows
            guard first < n else { return }
            let rows = min(Self.blockRows, n - first)
            quantized.codes.withUnsafeBufferPointer { c in
                quantized.scales.withUnsafeBufferPointer { sc in
                    quantized.l1.withUnsafeBufferPointer { l1 in
                        codes.withUnsafeBufferPointer { q in
                            lgpt_embed_bounds_i8(
                                c.baseAddress! + first * dims,
                                sc.baseAddress! + first,
                                l1.baseAddress! + first,
                                rows,
                                dims,
                                q.baseAddress!,
                                t,
                                codesL1,
                                Self.slack,
                                lower.baseAddress! + first,
                                upper.baseAddress! + first
                            )
                        }
                    }
                }
            }
        }
    }

    /// Scans what is left, waits for the helper if it is running, and returns the `k` best
    /// chunks, best first (a chunk's score is its best row's; ties to the lower row). Call once.
    func finish() -> [(chunk: Int64, score: Float)] {
        work()
        // Call off a helper still queued; wait for one that runs (it only finishes its block).
        let (calledOff, state) = helper.compareExchange(
            expected: HelperState.queued,
            desired: HelperState.calledOff,
            ordering: .acquiringAndReleasing
        )
        if !calledOff && state == HelperState.running { helperDone.wait() }
        let n = matrix.count
        let dims = matrix.dimensions
        let wanted = min(n, k * matrix.maxRowsPerChunk)
        let threshold = lgpt_embed_kth_largest(UnsafePointer(lower.baseAddress!), n, wanted)
        var candidates: [(Int, Float)] = []
        matrix.data.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { qb in
                for r in 0..<n where upper[r] >= threshold {
                    candidates.append((r, VectorMatrix.dot(m.baseAddress! + r * dims, qb.baseAddress!, dims)))
                }
            }
        }
        candidates.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        var seen = Set<Int64>()
        var out: [(Int64, Float)] = []
        for (r, score) in candidates.prefix(wanted) where seen.insert(matrix.rowChunk[r]).inserted {
            out.append((matrix.rowChunk[r], score))
            if out.count == k { break }
        }
        return out
    }
}
