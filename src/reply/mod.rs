//! The reply: what goes back to Lambda for one invocation, buffered or streamed.
pub mod compression;
pub mod stream;
