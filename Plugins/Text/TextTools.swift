// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The text plugin's tools: argument decoding, dispatch by name and result encoding.

import Foundation

/// The tools of `org.localgpt.text`. Stateless: safe to call from many threads at once (rule R6).
enum TextTools {
    /// Runs a tool by its manifest name.
    ///
    /// - Parameters:
    ///   - name: The tool name.
    ///   - arguments: The arguments object as JSON.
    /// - Returns: The result document.
    /// - Throws: ``ToolFailure``: `LGPT_ERR_NOT_FOUND` for an unknown tool, `LGPT_ERR_INVALID_ARGUMENT` for
    ///   bad arguments or an expression that cannot be evaluated.
    static func run(_ name: String, arguments: Data) throws(ToolFailure) -> Data {
        switch name {
        case "text_stats":
            return try textStats(arguments)
        case "calculate":
            return try calculate(arguments)
        case "current_time":
            return try currentTime(arguments)
        default:
            throw .notFound("unknown tool \"\(name)\"; this plugin has text_stats, calculate and current_time")
        }
    }

    private struct TextStatsArguments: Decodable {
        var text: String
    }

    private static func textStats(_ arguments: Data) throws(ToolFailure) -> Data {
        let text = try ToolJSON.decode(TextStatsArguments.self, from: arguments).text
        guard text.unicodeScalars.count <= TextStatistics.maximumLength else {
            throw .invalidArgument(
                "argument \"text\" is longer than \(TextStatistics.maximumLength) characters"
            )
        }
        return try ToolJSON.encode(TextStatistics(of: text))
    }

    private struct CalculateArguments: Decodable {
        var expression: String
    }

    private struct CalculateResult: Encodable {
        var expression: String
        var result: Double
    }

    private static func calculate(_ arguments: Data) throws(ToolFailure) -> Data {
        let expression = try ToolJSON.decode(CalculateArguments.self, from: arguments).expression
        guard expression.unicodeScalars.count <= Calculator.maximumLength else {
            throw .invalidArgument("argument \"expression\" is longer than \(Calculator.maximumLength) characters")
        }
        guard expression.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw .invalidArgument("argument \"expression\" is empty")
        }
        let value: Double
        do {
            value = try Calculator.evaluate(expression)
        } catch {
            throw .invalidArgument(error.message)
        }
        return try ToolJSON.encode(CalculateResult(expression: expression, result: value))
    }

    private struct CurrentTimeArguments: Decodable {
        var timezone: String?
    }

    private static func currentTime(_ arguments: Data) throws(ToolFailure) -> Data {
        let name = try ToolJSON.decode(CurrentTimeArguments.self, from: arguments).timezone
        guard let zone = CurrentTime.timeZone(named: name) else {
            let shown = String((name ?? "").prefix(100))
            throw .invalidArgument("unknown time zone \"\(shown)\"")
        }
        return try ToolJSON.encode(CurrentTime(in: zone))
    }
}
