//! ward-events (being built).
