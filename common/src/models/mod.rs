//! See ARCHITECTURE.md, layer `models`.
