//! ward-server-core (being built).
