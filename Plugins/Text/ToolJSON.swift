// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// Decoding tool arguments and encoding tool results and error documents.

import Foundation

/// JSON in and out of the text tools. Every call makes its own coders, so nothing is shared between threads.
enum ToolJSON {
    /// Decodes a tool's arguments object, turning every decoding problem into an `invalid_argument` failure.
    ///
    /// - Parameters:
    ///   - type: The arguments type.
    ///   - data: The arguments JSON the host passed to `invoke`.
    /// - Returns: The decoded arguments.
    /// - Throws: ``ToolFailure`` with `LGPT_ERR_INVALID_ARGUMENT` when the JSON or its shape is wrong.
    static func decode<Arguments: Decodable>(
        _ type: Arguments.Type,
        from data: Data
    ) throws(ToolFailure) -> Arguments {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw .invalidArgument(describe(error))
        } catch {
            throw .invalidArgument("the arguments are not valid JSON")
        }
    }

    /// Encodes a tool result with sorted keys, so equal results are equal bytes.
    ///
    /// - Parameter value: The result.
    /// - Returns: The JSON document.
    /// - Throws: ``ToolFailure`` with `LGPT_ERR_INTERNAL` if the value cannot be encoded (a non-finite number).
    static func encode<Result: Encodable>(_ value: Result) throws(ToolFailure) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            throw .internalError("the result could not be encoded as JSON")
        }
    }

    /// The error document for a failure: `{"error": {"code": "...", "message": "..."}}`.
    ///
    /// - Parameter failure: The failure.
    /// - Returns: The JSON document.
    static func errorDocument(for failure: ToolFailure) -> Data {
        let document = ErrorDocument(error: .init(code: failure.code, message: failure.message))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(document) {
            return data
        }
        return Data(#"{"error":{"code":"internal","message":"the error could not be encoded"}}"#.utf8)
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _):
            return "missing required argument \"\(key.stringValue)\""
        case .typeMismatch(_, let context):
            if context.codingPath.isEmpty {
                return "the arguments must be a JSON object"
            }
            return "argument \"\(path(context.codingPath))\" has the wrong type"
        case .valueNotFound(_, let context):
            if context.codingPath.isEmpty {
                return "the arguments must be a JSON object"
            }
            return "argument \"\(path(context.codingPath))\" must not be null"
        case .dataCorrupted:
            return "the arguments are not valid JSON"
        @unknown default:
            return "the arguments could not be read"
        }
    }

    private static func path(_ codingPath: [any CodingKey]) -> String {
        codingPath.map(\.stringValue).joined(separator: ".")
    }
}

/// `{"error": {"code": "...", "message": "..."}}`
private struct ErrorDocument: Encodable {
    struct Body: Encodable {
        var code: String
        var message: String
    }

    var error: Body
}
