//! Coordination between proxy replicas.

pub mod redis;
