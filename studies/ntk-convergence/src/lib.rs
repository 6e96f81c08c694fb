//! Study `ntk-convergence`: under construction.
