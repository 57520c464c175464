//! Lambda's side: the Extensions API (register, signal init done, report a configuration
//! error), the Runtime API's `/next` and the invocation context it hands out, and the posts
//! that answer each invocation.
//!
//! - [`extension`]: the Extensions API, at start-up only.
//! - [`next`]: `/next`, over ureq on [`transport`] (head and body in one write).
//! - [`invocation`]: one invocation's context, from the `/next` headers ([`context`]: its
//!   client context and Cognito identity, as upstream writes them).
//! - [`post`]: `/response` and `/error`, and the connection a streamed response goes out on.
//! - [`registration`]: the extension's init, in the background, ending in `event/next` or an
//!   init error.
//! - [`restore`]: the SnapStart endpoints (`/restore/next`, `/restore/error`) and the
//!   runtime's init error.
//! - [`agent`], [`error`]: the ureq agents' settings; failures and error documents.
//!
//! Each worker owns its own `/next` client and its own posting connection, so workers never
//! wait on each other.

pub mod agent;
pub mod context;
pub mod error;
pub mod extension;
pub mod invocation;
pub mod next;
pub mod post;
pub mod registration;
pub mod restore;
pub mod transport;

pub use agent::USER_AGENT;
pub use error::{ApiError, error_json, error_type_header};
pub use extension::ExtensionClient;
pub use next::{Next, RuntimeClient, connect_ahead};
pub use post::invocation_path;
