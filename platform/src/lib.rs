//! platform (under construction).
