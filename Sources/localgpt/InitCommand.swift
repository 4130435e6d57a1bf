//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTCore

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the LocalGPT home folder, its config.toml and workspace."
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let paths: LocalGPTPaths
        do {
            paths = try CLIContext.loadPaths().0
            try paths.createDirectories()
        } catch {
            throw CLIError("\(error)")
        }
        print("LocalGPT home: \(paths.home)")
        print("Config:        \(paths.configFile)")
        print("Workspace:     \(paths.workspace)")
        do {
            let (_, created) = try DeviceKey.loadOrCreate(at: paths.deviceKey)
            print("Device key:    \(paths.deviceKey)\(created ? " (created)" : "")")
        } catch {
            throw CLIError(error.message)
        }
    }
}

struct PathsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paths",
        abstract: "Print every path LocalGPT uses."
    )

    func run() {
        // The workspace as config.toml moves it; a file that does not parse leaves the home's, and says so.
        var paths = LocalGPTPaths.fromEnvironment()
        do {
            paths = try CLIContext.loadPaths().0
        } catch {
            printError("warning: \(error.description); the workspace shown is the home's")
        }
        for (name, path) in paths.all {
            print("\((name + ":").padding(toLength: 12, withPad: " ", startingAt: 0)) \(path)")
        }
        print(
            "\("bundled:".padding(toLength: 12, withPad: " ", startingAt: 0)) \(PluginDiscovery.defaultBundledDirectory())"
        )
    }
}
