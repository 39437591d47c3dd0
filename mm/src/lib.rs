//! mm (under construction).
