//! Study `matrix-sensing-overparam`: under construction.
