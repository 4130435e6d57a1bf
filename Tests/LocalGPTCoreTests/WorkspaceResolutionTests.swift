//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import LocalGPTCore
import Testing

/// One workspace for everything: the absolute `LOCALGPT_WORKSPACE`, else `memory.workspace`, else
/// the home's (the reference's rule, seed 2).
@Suite struct WorkspaceResolutionTests {
    let home = LocalGPTPaths(home: "/h/.localgpt")

    func workspace(_ toml: String, _ environment: [String: String] = [:]) throws -> String {
        home.resolvingWorkspace(
            configuration: try Configuration(toml: toml, environment: [:]),
            environment: environment
        )
        .workspace
    }

    @Test func theEnvironmentThenTheConfigurationThenTheHome() throws {
        #expect(try workspace("") == "/h/.localgpt/workspace")
        #expect(try workspace("[memory]\nworkspace = \"/n/notes\"\n") == "/n/notes")
        #expect(try workspace("[memory]\nworkspace = \"notes\"\n") == "/h/.localgpt/notes")
        #expect(try workspace("[memory]\nworkspace = \"/n/notes\"\n", ["LOCALGPT_WORKSPACE": "/e/ws"]) == "/e/ws")
        // A relative LOCALGPT_WORKSPACE is ignored; an empty or non-string memory.workspace too.
        #expect(try workspace("", ["LOCALGPT_WORKSPACE": "rel"]) == "/h/.localgpt/workspace")
        #expect(try workspace("[memory]\nworkspace = \"\"\n") == "/h/.localgpt/workspace")
        #expect(try workspace("[memory]\nworkspace = 5\n") == "/h/.localgpt/workspace")
        // What lives in the workspace moves with it; the rest of the home does not.
        let moved = home.resolvingWorkspace(
            configuration: try Configuration(toml: "", environment: [:]),
            environment: ["LOCALGPT_WORKSPACE": "/e/ws"]
        )
        #expect(moved.policyFile == "/e/ws/LocalGPT.md" && moved.identityFile == "/e/ws/IDENTITY.md")
        #expect(moved.configFile == "/h/.localgpt/config.toml" && moved.defaultWorkspace == "/h/.localgpt/workspace")
    }
}
