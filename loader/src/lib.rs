//! loader (under construction).
