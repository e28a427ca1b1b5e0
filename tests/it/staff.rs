//! Placeholder: filled in by the staff work.
