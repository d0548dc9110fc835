//! Payload sources fill a fresh [`StagingTree`](crate::stage::StagingTree) with the image's
//! base content: a directory, a tarball, or (in their own modules) package installers.

pub mod ips;
