//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import ArgumentParser
import Foundation
import LocalGPTAgent
import LocalGPTCore

/// `localgpt ask`: one question, one answer, with tools.
struct AskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Ask one question and print the answer (tools included).",
        discussion: """
            The question is read from standard input when it is "-". With --format text the answer streams to \
            standard output and tool progress goes to standard error; with --format json one JSON object \
            {"question", "response", "model", "tool_calls"} is printed at the end. Tools listed in \
            tools.require_approval are refused unless --yes is given. The exchange is not saved unless --save \
            is given.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The question, or - to read it from standard input.") var question: String
    @Option(name: .shortAndLong, help: "The model (default: agent.default_model in config.toml).") var model: String?
    @Option(name: .shortAndLong, help: "text or json.") var format: Format = .text
    @Flag(name: .shortAndLong, help: "Approve every tool call that needs approval.") var yes = false
    @Flag(help: "Save the exchange as a session.") var save = false

    func run() throws {
        var text = question
        if question == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            text = String(decoding: data, as: UTF8.self)
        }
        text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw CLIError("the question is empty") }
        let setup = try AgentSetup(options: options, model: model, persistent: save)
        defer { setup.host.shutdown() }
        if let warning = setup.policyWarning { printError(warning) }
        let agent = try setup.makeAgent(resume: nil)
        let printer = TurnPrinter(textPrefix: "", progressToStderr: true)
        let streaming = format == .text
        let approveAll = yes
        let hooks = TurnHooks(
            onEvent: { event in
                if case .text = event, !streaming { return }
                printer.handle(event)
            },
            approve: { request in
                if !approveAll {
                    printError("refused \(request.tool): it needs approval (run with --yes, or use `localgpt chat`)")
                }
                return approveAll
            }
        )
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { agent.cancel() }
        source.resume()
        let turn = Result { () throws(AgentError) in try agent.runTurn(text, hooks: hooks) }
        source.cancel()
        // With --save: the session is closed (what is unsaved tried once more, the lock released);
        // a file left without a message (the question could not be saved) is removed.
        var closeFailure: String? = nil
        do {
            try agent.session.file?.close(removingIfEmpty: true)
        } catch {
            closeFailure = error.message
        }
        let result: TurnResult
        switch turn {
        case .success(let r): result = r
        case .failure(let error):
            if closeFailure != nil { printError("Error: \(error.message)") }
            throw CLIError(closeFailure ?? error.message)
        }
        if let closeFailure { throw CLIError(closeFailure) }
        switch format {
        case .text:
            printer.finishLine()
            if result.outcome == .cancelled { throw ExitCode(130) }
        case .json:
            let doc: JSONValue = [
                "question": .string(text),
                "response": .string(result.text),
                "model": .string(result.model),
                "tool_calls": .int(Int64(result.toolCalls)),
                "session": save ? .string(agent.session.id) : .null,
            ]
            print(doc.encoded(pretty: true))
        }
    }
}
