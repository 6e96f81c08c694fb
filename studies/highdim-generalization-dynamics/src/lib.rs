//! Study `highdim-generalization-dynamics`: under construction.
