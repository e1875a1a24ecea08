//! ward-status (being built).
