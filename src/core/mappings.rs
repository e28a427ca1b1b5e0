//! Placeholder: filled in by the mappings work.
