//! Study `sgd-stability-trace`: under construction.
