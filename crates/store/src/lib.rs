//! hotline-store (under construction).
