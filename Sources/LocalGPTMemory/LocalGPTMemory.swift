//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import CLocalGPTEmbed
import GRDB
import LocalGPTCore

/// The memory module (markdown workspace, SQLite index, local embeddings): see the memory issue.
public enum LocalGPTMemoryModule {
    public static var embedderVersion: Int { Int(lgpt_embed_version()) }
}
