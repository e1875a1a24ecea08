//! ward-config (being built).
