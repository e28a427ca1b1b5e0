//! Placeholder: passkey tests.
