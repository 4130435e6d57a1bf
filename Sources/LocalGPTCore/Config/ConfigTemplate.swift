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

        [security]
        # LocalGPT.md (in the workspace) holds your standing instructions; it is used only while its
        # signature matches (sign it with `localgpt md sign` after each edit). When strict_policy is
        # true, a LocalGPT.md that changed after signing, or that holds a prompt-injection phrase,
        # stops the assistant from starting instead of only being left out.
        strict_policy = false

        [memory]
        # The markdown workspace (MEMORY.md, memory/YYYY-MM-DD.md, knowledge/...) is the memory;
        # an index under memory/ in this folder makes it searchable (`localgpt memory search`).
        # workspace = "~/notes"        # another workspace (LOCALGPT_WORKSPACE=/abs/dir wins)
        # chunk_size = 400             # tokens of ~4 characters per chunk (16 to 1048576)
        # chunk_overlap = 80           # tokens carried over into the next chunk
        # embeddings = true            # semantic search with the local model, when installed
        # max_file_bytes = 16777216    # larger files are not indexed (reported by `memory reindex`)
        # min_score = 0.05             # hybrid results scoring lower (0-1) are left out; 0 keeps all
        # paths = [{ path = "~/notes", pattern = "**/*.md" }]   # extra folders to index

        [logging]
        # debug, info, warning or error: what goes to logs/agent.log.
        level = "info"

        [sandbox]
        # Every command a plugin runs (a bash tool, a CLI a provider drives, a skill's script) runs in a
        # kernel sandbox: Landlock, seccomp, resource limits, no_new_privs, no capabilities. Only the
        # workspace and a private temporary folder are writable; your home folder, ~/.ssh and this
        # folder stay unreadable. `localgpt sandbox status` shows what this kernel offers; see
        # docs/SANDBOX.md.
        # level: "auto" (the strongest this kernel offers), "full", "standard" (files and system calls,
        # no resource limits), "minimal" (limits only) or "none" (no kernel sandbox; logged as a warning
        # on every command).
        level = "auto"
        # timeout_ms = 30000              # wall clock per command when the call gives none (max 600000)
        # max_output_bytes = 1048576      # kept of each of stdout and stderr; the rest is only counted
        # max_file_size_bytes = 52428800  # largest file a command may write (0 = no limit)
        # max_processes = 64              # processes and threads of one command
        # max_open_files = 1024
        # max_cpu_seconds = 300           # CPU time per process (0 = no limit)
        # max_memory_bytes = 8589934592   # address space per process (0 = no limit)
        # use_pids_cgroup = true          # a pids cgroup per command, when the host may create one
        #
        # [sandbox.allow_paths]
        # read = []    # extra folders commands may read (and run programs from); absolute or ~/...
        # write = []   # extra folders commands may write
        #
        # [sandbox.network]
        # policy = "deny"   # "allow": commands of plugins you granted network hosts may use TCP/UDP

        """
}
