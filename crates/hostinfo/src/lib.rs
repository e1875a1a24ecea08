//! ward-hostinfo (being built).
