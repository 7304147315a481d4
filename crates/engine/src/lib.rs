//! hotline-engine (under construction).
