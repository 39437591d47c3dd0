//! fs (under construction).
