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
    /// False when the model can make nothing of `text` (for MiniLM: not one word piece of its
    /// vocabulary, as for emoji, a 20,000-letter word or characters it has never seen). The model
    /// gives every such text nearly the same vector, so the memory stores the zero vector for them
    /// instead, and a query of them is searched by keywords only.
    func knowsAWord(in text: String) -> Bool
}

extension TextEmbedder {
    public func knowsAWord(in text: String) -> Bool { true }
}
