// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// A failed tool call: an ABI status plus the message of its error document.

import CLocalGPTPlugin

/// Why a tool call failed. It becomes a negative `lgpt_status` and the error document
/// `{"error": {"code": "...", "message": "..."}}` written to the out sink (rule R7).
struct ToolFailure: Error {
    /// The negative ABI status returned from `invoke`.
    var status: lgpt_status
    /// A human-readable message, safe to show to the model.
    var message: String

    /// The error document's `code`, derived from ``status``.
    var code: String {
        switch status {
        case LGPT_ERR_INVALID_ARGUMENT: "invalid_argument"
        case LGPT_ERR_NOT_FOUND: "not_found"
        case LGPT_ERR_PERMISSION_DENIED: "permission_denied"
        case LGPT_ERR_CANCELLED: "cancelled"
        case LGPT_ERR_TIMEOUT: "timeout"
        case LGPT_ERR_UNSUPPORTED: "unsupported"
        case LGPT_ERR_ABI_MISMATCH: "abi_mismatch"
        case LGPT_ERR_IO: "io"
        case LGPT_ERR_RATE_LIMITED: "rate_limited"
        case LGPT_ERR_INTERNAL: "internal"
        default: "unknown"
        }
    }

    static func invalidArgument(_ message: String) -> ToolFailure {
        ToolFailure(status: LGPT_ERR_INVALID_ARGUMENT, message: message)
    }

    static func notFound(_ message: String) -> ToolFailure { ToolFailure(status: LGPT_ERR_NOT_FOUND, message: message) }

    static func internalError(_ message: String) -> ToolFailure {
        ToolFailure(status: LGPT_ERR_INTERNAL, message: message)
    }
}
