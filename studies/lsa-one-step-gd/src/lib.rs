//! Study `lsa-one-step-gd`: under construction.
