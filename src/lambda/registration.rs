//! The extension's part of init, run beside the readiness check: register in the background,
//! say "init done" (`/extension/event/next`) once the adapter is ready to take invocations or
//! to be snapshotted, or report why init failed (`/extension/init/error`) and end the process.
//!
//! Holding `event/next` back until the adapter is ready costs nothing (Lambda ends init only
//! when the runtime, which is this same process, polls too) and keeps the extension in its init
//! state, the one in which Lambda accepts an init error.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::config::ApiEndpoint;
use crate::lambda::error::ApiError;
use crate::lambda::extension::ExtensionClient;

/// How long a failed init waits for the registration it reports through.
const REGISTRATION_WAIT: Duration = Duration::from_secs(15);
/// Times `event/next` is sent again after a transport failure (a restored snapshot breaks the
/// connection it was waiting on).
const EVENT_NEXT_ATTEMPTS: u32 = 4;

/// The extension's registration, running in its own thread.
pub struct Registration {
    endpoint: ApiEndpoint,
    id: Receiver<String>,
    init_done: Sender<()>,
}

impl Registration {
    /// Starts registering in the background. A failed registration ends the process, as
    /// upstream's does: without it Lambda cannot run the function.
    pub fn start(endpoint: ApiEndpoint) -> Result<Registration, String> {
        let (id_tx, id) = mpsc::channel();
        let (init_done, done_rx) = mpsc::channel();
        let client = ExtensionClient::new(endpoint.clone());
        std::thread::Builder::new()
            .name("extension".into())
            .spawn(move || run(&client, &id_tx, &done_rx))
            .map_err(|e| format!("could not start the extension thread: {e}"))?;
        Ok(Registration {
            endpoint,
            id,
            init_done,
        })
    }

    /// Init is done: the extension polls `event/next`, which with no events subscribed waits
    /// until the environment shuts down.
    pub fn init_done(&self) {
        let _ = self.init_done.send(());
    }

    /// Reports a failed init to `/extension/init/error` so the Lambda console shows
    /// `error_type` and `message`; the caller then exits.
    pub fn fail(self, error_type: &str, message: &str) -> Result<(), ApiError> {
        let id = match self.id.recv_timeout(REGISTRATION_WAIT) {
            Ok(id) => id,
            Err(RecvTimeoutError::Timeout) => {
                return Err(ApiError::answered(format!(
                    "the extension was not registered within {} s",
                    REGISTRATION_WAIT.as_secs()
                )));
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(ApiError::answered("the extension is not registered".into()));
            }
        };
        ExtensionClient::new(self.endpoint).init_error(&id, error_type, message)
    }
}

fn run(client: &ExtensionClient, id_tx: &Sender<String>, init_done: &Receiver<()>) {
    let id = match client.register() {
        Ok(id) => id,
        Err(e) => {
            log::error!("Extension registration failed - terminating process error={e}");
            std::process::exit(1);
        }
    };
    let _ = id_tx.send(id.clone());
    // The sender is dropped when init fails: there is nothing to signal then.
    if init_done.recv().is_err() {
        return;
    }
    for attempt in 1..=EVENT_NEXT_ATTEMPTS {
        match client.next_event(&id) {
            Ok(status) => {
                log::debug!("extension event/next returned status {status}");
                return;
            }
            Err(e) if e.transport && attempt < EVENT_NEXT_ATTEMPTS => {
                log::debug!("extension event/next ended ({e}); polling again");
                std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
            }
            Err(e) => {
                log::debug!("extension event/next ended: {e}");
                return;
            }
        }
    }
}
