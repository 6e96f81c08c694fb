//! Study `deep-linear-dynamics`: under construction.
