// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The manifest of the bundled `org.localgpt.text` plugin.

/// The identity and manifest of the text plugin, as static NUL-terminated strings (rule R5).
enum TextManifest {
    /// The plugin id; equals the manifest's `id`.
    static let id: StaticString = "org.localgpt.text"

    /// The plugin version; equals the manifest's `version`.
    static let version: StaticString = "0.1.0"

    /// The manifest embedded in the library (`manifest_json`). The sidecar `plugin.json` is generated from it.
    static let json: StaticString = #"""
        {
          "id": "org.localgpt.text",
          "name": "Text tools",
          "version": "0.1.0",
          "description": "Text statistics, a safe arithmetic calculator and the current date and time.",
          "publisher": "LocalGPT for Swift",
          "license": "Apache-2.0",
          "abi": {"major": 1, "minor": 0},
          "kinds": ["tool"],
          "concurrency": "parallel",
          "tools": [
            {
              "name": "text_stats",
              "description": "Counts the characters, words, lines, sentences and paragraphs of a text, the number of distinct words (ignoring case), and estimates the reading time in minutes at 230 words per minute.",
              "parameters": {
                "type": "object",
                "properties": {
                  "text": {"type": "string", "maxLength": 1000000, "description": "The text to analyse."}
                },
                "required": ["text"],
                "additionalProperties": false
              },
              "side_effects": "none",
              "timeout_ms": 10000
            },
            {
              "name": "calculate",
              "description": "Evaluates an arithmetic expression and returns its numeric value; use it instead of doing arithmetic in your head. Supports + - * / and % (remainder), ^ or ** (power, right-associative), unary minus, parentheses, decimal and scientific numbers (1.5e3), the constants pi and e, and the functions sqrt, abs, round (round(x) or round(x, digits)), floor, ceil, ln, log10, log2, exp, sin, cos, tan, asin, acos, atan (angles in radians), min(a, b, ...) and max(a, b, ...).",
              "parameters": {
                "type": "object",
                "properties": {
                  "expression": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                    "description": "The expression, for example (2 + 3) * 4^2 / sqrt(16)."
                  }
                },
                "required": ["expression"],
                "additionalProperties": false
              },
              "side_effects": "none",
              "timeout_ms": 10000
            },
            {
              "name": "current_time",
              "description": "Returns the current date and time in a time zone: ISO 8601 with UTC offset, Unix seconds, the weekday, the date and the time of day.",
              "parameters": {
                "type": "object",
                "properties": {
                  "timezone": {
                    "type": "string",
                    "maxLength": 100,
                    "description": "An IANA time zone name such as Europe/Berlin or America/New_York. Omit it for the local time zone of the computer."
                  }
                },
                "required": [],
                "additionalProperties": false
              },
              "side_effects": "none",
              "timeout_ms": 10000
            }
          ],
          "providers": [],
          "skills": [],
          "permissions": {
            "exec": {"commands": []},
            "net": {"hosts": []},
            "fs": {"read": [], "write": []},
            "memory": {"search": false, "append": false},
            "secrets": [],
            "config": []
          }
        }
        """#
}
