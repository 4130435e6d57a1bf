//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// The application's version (independent of the plugin ABI version).
public enum LocalGPTVersion {
    public static let current = "0.1.0"
}
