//! hotline-sip (under construction).
