//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

/// The files a new workspace starts with. Written only when missing; a user's file is never replaced.
enum WorkspaceTemplates {
    static let files: [(name: String, text: String)] = [
        ("MEMORY.md", memory),
        ("HEARTBEAT.md", heartbeat),
        ("SOUL.md", soul),
        ("LocalGPT.md", standingInstructions),
        (".gitignore", gitignore),
    ]

    /// The folders a workspace always has.
    static let directories = ["memory", "skills", "knowledge"]

    static let memory = """
        # Memory

        Long-lived facts worth keeping across conversations: who the user is, what they prefer,
        decisions made, things to remember. One fact per line, newest at the bottom.

        The assistant adds to this file with `memory_save`; you can edit it by hand at any time.
        Day-by-day notes go to `memory/YYYY-MM-DD.md` instead (`memory_log`).

        ## Facts

        """

    static let heartbeat = """
        # Heartbeat

        Tasks the assistant checks on its periodic heartbeat. Write one task per line as
        `- [ ] what to do`, and tick it (`- [x]`) when done. Leave the list empty to skip heartbeats.

        ## Tasks

        """

    static let soul = """
        # Soul

        Who the assistant is when it talks to you. Edit freely: this file is read at the start of
        every session.

        - Be direct and concrete. Say what you did, what you found, and what you are unsure about.
        - Prefer doing the small task now over describing a plan for it.
        - Keep what you learn: facts that will matter later go to MEMORY.md, the day's work to the
          daily log.
        - Private things stay private. Never send memory contents anywhere the user did not ask for.

        """

    static let standingInstructions = """
        # LocalGPT.md: standing instructions

        Instructions the assistant follows in every session. Only you edit this file; the assistant
        cannot change it.

        ## Conventions

        - (how you like answers: length, language, format)

        ## Boundaries

        - (what the assistant must never do without asking)

        ## Reminders

        - (anything to keep in mind every time)

        """

    static let gitignore = """
        .localgpt_manifest.json
        *.tmp
        *.swp
        *~
        .DS_Store

        """
}
