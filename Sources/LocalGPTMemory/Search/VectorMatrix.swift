//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTEmbed
import Dispatch

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
/// bound reaches the k-th best lower bound, best bound first, until no row left can reach the k-th
/// best product found. The result is the exact scan's, row for row and in the same order: a row of
/// the exact top k always has an upper bound at or above both.
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
    /// product computed from them. For a query `y` quantized the same way (`t * p`), the error
    /// `|x·y - scale * t * (codes·p)|` is at most the smaller of two bounds:
    /// - `t/2 * |x|₁ + scale/2 * t * |p|₁` (each value is rounded by at most half a step);
    /// - `|x - scale * codes|₂ * |y|₂ + |scale * codes|₂ * |y - t * p|₂` (Cauchy–Schwarz on
    ///   `(x - scale * codes)·y + (scale * codes)·(y - t * p)`), the tighter one on most rows.
    struct Quantized: Sendable {
        /// The codes biased by 128 (`codes + 128`, 1...255), the operand the VNNI kernel reads.
        let codes: [UInt8]
        let scales: [Float]
        /// The L1 norm of each float32 row.
        let l1: [Float]
        /// `|x - scale * codes|₂` of each row.
        let residual: [Float]
        /// `|scale * codes|₂` of each row.
        let codedNorm: [Float]
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
        var codes = [UInt8](repeating: 128, count: data.count)
        var scales = [Float](repeating: 0, count: n)
        var l1 = [Float](repeating: 0, count: n)
        var residual = [Float](repeating: 0, count: n)
        var codedNorm = [Float](repeating: 0, count: n)
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
                var residualSquares: Float = 0
                var codedSquares: Float = 0
                for j in 0..<dims {
                    let c = max(-127, min(127, (row[j] / scale).rounded()))
                    codes[r * dims + j] = UInt8(Int(c) + 128)
                    residualSquares += (row[j] - scale * c) * (row[j] - scale * c)
                    codedSquares += (scale * c) * (scale * c)
                }
                residual[r] = residualSquares.squareRoot()
                codedNorm[r] = codedSquares.squareRoot()
            }
        }
        return Quantized(codes: codes, scales: scales, l1: l1, residual: residual, codedNorm: codedNorm)
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
/// shared by the caller and a helper thread (``SharedBlocks``): ``startHelper()`` puts another
/// thread on it, and ``finish()`` has the caller take the blocks left. The hybrid search starts a
/// helper, runs its keyword stage meanwhile, then joins the scan.
///
/// The bounds: with the query quantized as `t * p` (codes in -127...127), each row's float32
/// product lies within `estimate ± error` (``VectorMatrix/Quantized``). Every row of the exact top
/// `wanted` has an upper bound at or above the `wanted`-th best lower bound, so the float32
/// product of those rows alone gives the exact scan's result, row for row and in the same order.
/// Taken best upper bound first, they can stop at the first row whose upper bound is below the
/// `wanted`-th best product so far (each worker keeps its blocks' best lower bounds as it goes,
/// so the threshold costs no pass over every row).
final class PrefilteredScan: @unchecked Sendable {
    private let matrix: VectorMatrix
    private let query: [Float]
    private let k: Int
    /// Each row's upper bound: written block by block, each block by one thread; read by
    /// ``finish()`` once the blocks are done.
    private let upper: UnsafeMutableBufferPointer<Float>
    /// A block's lower bounds, one buffer per worker: only their best are kept (``best``).
    private let lower: UnsafeMutableBufferPointer<Float>
    /// The rows wanted from the exact scan: `k` chunks' worth.
    private let wanted: Int
    /// The `wanted` best lower bounds of the blocks each worker scanned (a min-heap per worker, and
    /// its size): the `wanted`-th best of all rows is the `wanted`-th best of the two.
    private let best: UnsafeMutableBufferPointer<Float>
    private let bestCount: UnsafeMutableBufferPointer<Int>
    private let blocks: SharedBlocks

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
        let codesL1 = Float(codes.reduce(0) { $0 + Int($1.magnitude) })
        let queryNorm = query.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let queryResidual = zip(query, codes).reduce(0) { $0 + ($1.0 - t * Float($1.1)) * ($1.0 - t * Float($1.1)) }
            .squareRoot()
        self.matrix = matrix
        self.query = query
        self.k = k
        let lower = UnsafeMutableBufferPointer<Float>.allocate(capacity: 2 * Self.blockRows)
        let upper = UnsafeMutableBufferPointer<Float>.allocate(capacity: matrix.count)
        self.lower = lower
        self.upper = upper
        let n = matrix.count
        let dims = matrix.dimensions
        let blockCount = (n + Self.blockRows - 1) / Self.blockRows
        let wanted = min(n, k * matrix.maxRowsPerChunk)
        let best = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, 2 * wanted))
        let bestCount = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2)
        bestCount.initialize(repeating: 0)
        self.wanted = wanted
        self.best = best
        self.bestCount = bestCount
        nonisolated(unsafe) let bestBase = best.baseAddress!
        nonisolated(unsafe) let countBase = bestCount.baseAddress!
        // The blocks' work captures the arrays and buffers, not `self`, which owns `blocks`.
        nonisolated(unsafe) let lowerBase = lower.baseAddress!
        nonisolated(unsafe) let upperBase = upper.baseAddress!
        blocks = SharedBlocks(count: blockCount) { block, worker in
            let first = block * Self.blockRows
            let rows = min(Self.blockRows, n - first)
            quantized.codes.withUnsafeBufferPointer { c in
                quantized.scales.withUnsafeBufferPointer { sc in
                    quantized.l1.withUnsafeBufferPointer { l1 in
                        quantized.residual.withUnsafeBufferPointer { re in
                            quantized.codedNorm.withUnsafeBufferPointer { cn in
                                codes.withUnsafeBufferPointer { q in
                                    var rowBounds = lgpt_embed_row_bounds(
                                        scales: sc.baseAddress! + first,
                                        l1: l1.baseAddress! + first,
                                        residual: re.baseAddress! + first,
                                        coded_norm: cn.baseAddress! + first
                                    )
                                    var queryBounds = lgpt_embed_query_bounds(
                                        t: t,
                                        l1: codesL1,
                                        norm: queryNorm,
                                        residual: queryResidual,
                                        slack: Self.slack
                                    )
                                    lgpt_embed_bounds_i8(
                                        c.baseAddress! + first * dims,
                                        rows,
                                        dims,
                                        q.baseAddress!,
                                        &rowBounds,
                                        &queryBounds,
                                        lowerBase + worker * Self.blockRows,
                                        upperBase + first
                                    )
                                }
                            }
                        }
                    }
                }
            }
            lgpt_embed_keep_largest(
                lowerBase + worker * Self.blockRows,
                rows,
                wanted,
                bestBase + worker * wanted,
                countBase + worker
            )
        }
    }

    deinit {
        // The helper may still be on a block (a search that failed before ``finish()``): it
        // writes into the buffers freed below.
        blocks.stop()
        lower.deallocate()
        upper.deallocate()
        best.deallocate()
        bestCount.deallocate()
    }

    /// Puts a thread of the global queue on the scan (once).
    func startHelper() { blocks.startHelper() }

    /// Scans what is left, waits for the helper if it is running, and returns the `k` best
    /// chunks, best first (a chunk's score is its best row's; ties to the lower row). Call once.
    func finish() -> [(chunk: Int64, score: Float)] {
        blocks.finish()
        let n = matrix.count
        let dims = matrix.dimensions
        // The `wanted`-th best of the two workers' best lower bounds; a heap not full is padded
        // with -infinity (together they hold at least `wanted` values).
        for worker in 0..<2 where bestCount[worker] < wanted {
            (best.baseAddress! + worker * wanted + bestCount[worker]).update(
                repeating: -.infinity,
                count: wanted - bestCount[worker]
            )
        }
        let threshold = lgpt_embed_kth_largest(UnsafePointer(best.baseAddress!), 2 * wanted, wanted)
        // The rows that may be in the top `wanted`, by upper bound, best first. Their float32
        // products are taken in that order until the next upper bound is below the `wanted`-th
        // best product so far: no row left can reach it.
        var order: [(upper: Float, row: Int)] = []
        for r in 0..<n where upper[r] >= threshold { order.append((upper[r], r)) }
        order.sort { $0.upper > $1.upper }
        var candidates: [(Int, Float)] = []
        // The `wanted` best products so far, a min-heap (the same as the workers' in C).
        var exact = [Float](repeating: 0, count: max(1, wanted))
        var kept = 0
        matrix.data.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { qb in
                for (i, (bound, r)) in order.enumerated() {
                    if kept == wanted && bound < exact[0] { break }
                    // The rows are scattered over the matrix: ask for the next one's cache lines now.
                    if i + 1 < order.count {
                        lgpt_embed_prefetch(m.baseAddress! + order[i + 1].row * dims, dims * MemoryLayout<Float>.size)
                    }
                    let score = VectorMatrix.dot(m.baseAddress! + r * dims, qb.baseAddress!, dims)
                    candidates.append((r, score))
                    withUnsafePointer(to: score) { lgpt_embed_keep_largest($0, 1, wanted, &exact, &kept) }
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
