//! The Extensions API, used at start-up only: register, signal that init is done, report a
//! configuration error.

use std::time::Duration;

use ureq::Agent;

use crate::config::ApiEndpoint;
use crate::lambda::agent::{EXTENSION_BUFFER, agent};
use crate::lambda::error::{ApiError, error_json, transport_error};
use crate::lambda::transport::RuntimeConnector;

/// The name Lambda knows the extension by (the file name under /opt/extensions).
pub const EXTENSION_NAME: &str = "lambda-adapter";

/// The Extensions API, used at start-up only.
pub struct ExtensionClient {
    endpoint: ApiEndpoint,
    agent: Agent,
}

impl ExtensionClient {
    pub fn new(endpoint: ApiEndpoint) -> ExtensionClient {
        ExtensionClient {
            endpoint,
            agent: agent(
                Some(Duration::from_secs(10)),
                EXTENSION_BUFFER,
                RuntimeConnector::default(),
            ),
        }
    }

    /// Registers the extension for no events; returns the extension identifier.
    pub fn register(&self) -> Result<String, ApiError> {
        let url = self.endpoint.url("/2020-01-01/extension/register");
        let mut response = self
            .agent
            .post(&url)
            .header("Lambda-Extension-Name", EXTENSION_NAME)
            .send(r#"{ "events": [] }"#)
            .map_err(|e| transport_error("extension registration", &url, e))?;
        let _ = response.body_mut().read_to_vec();
        if response.status() != 200 {
            return Err(ApiError::answered(format!(
                "Extension registration failed with status: {} ({url})",
                response.status()
            )));
        }
        response
            .headers()
            .get("lambda-extension-identifier")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ApiError::answered("Missing Lambda-Extension-Identifier header".into()))
    }

    /// Tells Lambda the extension has finished its init and waits for an event. With no
    /// events subscribed this normally blocks until the environment shuts down.
    pub fn next_event(&self, id: &str) -> Result<u16, ApiError> {
        let url = self.endpoint.url("/2020-01-01/extension/event/next");
        let agent = agent(None, EXTENSION_BUFFER, RuntimeConnector::default());
        let response = agent
            .get(&url)
            .header("Lambda-Extension-Identifier", id)
            .call()
            .map_err(|e| transport_error("extension event/next", &url, e))?;
        Ok(response.status().as_u16())
    }

    /// Reports a failed initialisation so the Lambda console shows `error_type` and `message`.
    pub fn init_error(&self, id: &str, error_type: &str, message: &str) -> Result<(), ApiError> {
        let url = self.endpoint.url("/2020-01-01/extension/init/error");
        let body = error_json(error_type, message);
        let response = self
            .agent
            .post(&url)
            .header("Lambda-Extension-Identifier", id)
            .header("Lambda-Extension-Function-Error-Type", error_type)
            .header("Content-Type", "application/json")
            .send(&body)
            .map_err(|e| transport_error("extension init/error", &url, e))?;
        if !response.status().is_success() {
            return Err(ApiError::answered(format!(
                "init/error answered status {}",
                response.status()
            )));
        }
        Ok(())
    }
}
