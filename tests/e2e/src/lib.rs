//! Helpers for Ward's end-to-end tests.
