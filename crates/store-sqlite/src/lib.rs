//! ward-store-sqlite (being built).
