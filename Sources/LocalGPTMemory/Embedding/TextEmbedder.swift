//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// Turns texts into unit-length vectors. The index stores `modelID` in its identity, so vectors of
/// two models are never mixed.
public protocol TextEmbedder: Sendable {
    /// Identifies the model and its settings, e.g. `all-MiniLM-L6-v2/fp32/256`.
    var modelID: String { get }
    /// The vector length (384 for all-MiniLM-L6-v2).
    var dimensions: Int { get }
    /// Embeds a batch; the result has one L2-normalised vector per text, in order. Blocking.
    ///
    /// - Throws: when the model fails; the error message names the cause.
    func embed(_ texts: [String]) throws -> [[Float]]
}
