// LocalGPT for Swift
// Copyright (c) 2026 the LocalGPT for Swift authors.
// Licensed under the Apache License 2.0.
//
// The manifest of the bundled `org.localgpt.tools` plugin.

/// The identity and manifest of the tools plugin, as static NUL-terminated strings (rule R5).
enum ToolsManifest {
    /// The plugin id; equals the manifest's `id`.
    static let id: StaticString = "org.localgpt.tools"

    /// The plugin version; equals the manifest's `version`.
    static let version: StaticString = "0.1.0"

    /// The manifest embedded in the library (`manifest_json`). The sidecar `plugin.json` is generated from it.
    /// Descriptions are short on purpose: every request carries them.
    static let json: StaticString = #"""
        {
          "id": "org.localgpt.tools",
          "name": "Agent tools",
          "version": "0.1.0",
          "description": "The model's workspace tools: a sandboxed shell, file reading and editing, and fetching web pages.",
          "publisher": "LocalGPT for Swift",
          "license": "Apache-2.0",
          "abi": {"major": 1, "minor": 0},
          "kinds": ["tool"],
          "concurrency": "parallel",
          "tools": [
            {
              "name": "bash",
              "description": "Run a bash command in the workspace (sandboxed, no network). Returns stdout, stderr and the exit code.",
              "parameters": {
                "type": "object",
                "properties": {
                  "command": {"type": "string", "minLength": 1, "maxLength": 100000},
                  "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 600000}
                },
                "required": ["command"],
                "additionalProperties": false
              },
              "side_effects": "exec",
              "timeout_ms": 610000
            },
            {
              "name": "read_file",
              "description": "Read a text file with numbered lines. Paths are relative to the workspace. offset is the 0-based first line, limit the number of lines (default 2000).",
              "parameters": {
                "type": "object",
                "properties": {
                  "path": {"type": "string", "minLength": 1, "maxLength": 4096},
                  "offset": {"type": "integer", "minimum": 0},
                  "limit": {"type": "integer", "minimum": 1, "maximum": 100000}
                },
                "required": ["path"],
                "additionalProperties": false
              },
              "side_effects": "read",
              "timeout_ms": 30000
            },
            {
              "name": "write_file",
              "description": "Create or overwrite a file with the given content (parent folders are created).",
              "parameters": {
                "type": "object",
                "properties": {
                  "path": {"type": "string", "minLength": 1, "maxLength": 4096},
                  "content": {"type": "string"}
                },
                "required": ["path", "content"],
                "additionalProperties": false
              },
              "side_effects": "write",
              "timeout_ms": 30000
            },
            {
              "name": "edit_file",
              "description": "Replace exact text in a file. old_string must occur exactly once unless replace_all is true.",
              "parameters": {
                "type": "object",
                "properties": {
                  "path": {"type": "string", "minLength": 1, "maxLength": 4096},
                  "old_string": {"type": "string", "minLength": 1},
                  "new_string": {"type": "string"},
                  "replace_all": {"type": "boolean"}
                },
                "required": ["path", "old_string", "new_string"],
                "additionalProperties": false
              },
              "side_effects": "write",
              "timeout_ms": 30000
            },
            {
              "name": "web_fetch",
              "description": "Fetch an http(s) URL on the public internet and return its readable text.",
              "parameters": {
                "type": "object",
                "properties": {
                  "url": {"type": "string", "minLength": 8, "maxLength": 8192},
                  "max_chars": {"type": "integer", "minimum": 100, "maximum": 200000}
                },
                "required": ["url"],
                "additionalProperties": false
              },
              "side_effects": "network",
              "timeout_ms": 60000
            }
          ],
          "providers": [],
          "skills": [],
          "permissions": {
            "exec": {"commands": ["bash"]},
            "net": {"hosts": ["*"]},
            "fs": {"read": ["$WORKSPACE"], "write": ["$WORKSPACE"]},
            "memory": {"search": false, "append": false},
            "secrets": [],
            "config": ["tools"]
          }
        }
        """#
}
