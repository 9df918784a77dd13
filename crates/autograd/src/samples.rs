//! samples placeholder
