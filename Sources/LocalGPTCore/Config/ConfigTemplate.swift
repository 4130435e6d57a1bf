//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// The commented `config.toml` written on first run.
public enum ConfigTemplate {
    /// The model a new install chats with: a small model that runs on this machine.
    public static let defaultModel = "local/qwen2.5-coder-0.5b-instruct"

    public static let text = """
        # LocalGPT configuration (TOML). Created on first run; edit it freely or use
        # `localgpt config set <key> <value>`, which keeps these comments.
        # String values may reference environment variables as ${NAME}: the reference stays in
        # this file and is expanded when the value is read.

        [agent]
        # The model to chat with. "local/..." runs on this machine: no API key, no network.
        default_model = "\(defaultModel)"

        [plugins]
        # Extra plugin folders to load, each holding a plugin.json and its library. Absolute, or
        # relative to the LocalGPT home folder. Plugins listed here get the permissions they declare.
        paths = []
        # Plugin ids that must not load, e.g. ["org.localgpt.sysinfo"].
        disabled = []

        [secrets]
        # Secrets that plugins may ask for by name. A plugin gets one only if its manifest declares
        # it; the environment variable of the same name is used when it is not set here.
        # OPENAI_API_KEY = "${OPENAI_API_KEY}"

        [sysinfo]
        # Read by the bundled sysinfo plugin's `whoami` tool.
        # greeting = "Hello from LocalGPT"

        [logging]
        # debug, info, warning or error: what goes to logs/agent.log.
        level = "info"

        """
}
