//! ward-authlog (being built).
