//! ward-rules (being built).
