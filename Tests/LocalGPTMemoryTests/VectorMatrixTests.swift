//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Testing

@testable import LocalGPTMemory

@Suite struct VectorMatrixTests {
    /// `rows` deterministic unit vectors of `dims` values; every 7th row repeats the one before
    /// (ties), and chunk ids repeat every 5th row (a chunk with two rows).
    static func matrix(rows: Int, dims: Int, quantizeFrom: Int) -> VectorMatrix {
        var g = SyntheticWorkspace.Generator(state: 11)
        var data: [Float] = []
        var chunks: [Int64] = []
        var previous: [Float] = []
        for r in 0..<rows {
            var v = (0..<dims).map { _ in g.unit() }
            if r % 7 == 6 { v = previous }
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / n }
            previous = v
            data += v
            chunks.append(Int64(r % 5 == 4 ? r - 1 : r))
        }
        return VectorMatrix(
            generation: 1,
            model: "m",
            dimensions: dims,
            rowChunk: chunks,
            data: data,
            quantizeFrom: quantizeFrom
        )
    }

    @Test func theInt8PrefilterReturnsTheExactScansResult() {
        let exact = Self.matrix(rows: 3_000, dims: 64, quantizeFrom: .max)
        let prefiltered = Self.matrix(rows: 3_000, dims: 64, quantizeFrom: 0)
        #expect(exact.quantized == nil)
        #expect(prefiltered.quantized != nil)
        #expect(prefiltered.maxRowsPerChunk == 2)
        var g = SyntheticWorkspace.Generator(state: 5)
        for i in 0..<20 {
            var q = (0..<64).map { _ in g.unit() }
            // Some queries are rows of the matrix (a score of 1 and exact ties).
            if i % 4 == 0 { q = Array(exact.data[(i * 64 * 7 + 6 * 64)..<(i * 64 * 7 + 7 * 64)]) }
            for k in [1, 10, 200] {
                let a = exact.top(q, k: k)
                let b = prefiltered.top(q, k: k)
                #expect(a.map(\.chunk) == b.map(\.chunk), "query \(i), k \(k)")
                #expect(a.map(\.score) == b.map(\.score), "query \(i), k \(k)")
            }
        }
    }

    @Test func anAllZeroQueryFallsBackToTheExactScan() {
        let m = Self.matrix(rows: 100, dims: 32, quantizeFrom: 0)
        let top = m.top([Float](repeating: 0, count: 32), k: 3)
        #expect(top.count == 3)
        #expect(top.allSatisfy { $0.score == 0 })
    }
}
