//! ward-agent-core (being built).
