//! hotline-media (under construction).
