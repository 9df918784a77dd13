//! Examples placeholder.
