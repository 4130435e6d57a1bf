import LocalGPTCore

/// The agent runtime: see the agent issue.
public enum LocalGPTAgentModule {}
