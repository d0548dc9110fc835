//! The typed image model.
