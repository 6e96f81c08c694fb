//! Study `mfac`: under construction.
