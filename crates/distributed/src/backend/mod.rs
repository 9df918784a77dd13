//! Communicator backends: threads in one process, a single process, and MPI
//! (cargo feature `mpi`).

#[cfg(feature = "mpi")]
pub mod mpi;
pub mod single;
pub mod thread;
