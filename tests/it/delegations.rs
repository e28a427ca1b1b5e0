//! Placeholder: filled in by the delegations work.
