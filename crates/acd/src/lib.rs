//! hotline-acd (under construction).
