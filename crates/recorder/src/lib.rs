//! hotline-recorder (under construction).
