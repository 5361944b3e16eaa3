//! Modules, layers, losses, optimizers and the training loop for Engram.
//!
//! This crate is where layers will live (Linear to LSTM and attention); it builds on
//! `engram-autograd` and is empty until the layers issue lands.
