//! PLACEHOLDER: response streaming (issue 4).

use crate::app_client::AppExchange;
use crate::invocation::Invocation;
use crate::lambda_api::RuntimeClient;
use crate::worker::Reply;

pub fn stream(
    _runtime: &RuntimeClient,
    _invocation: &Invocation,
    _exchange: &mut AppExchange<'_>,
) -> Reply {
    Reply::Error {
        error_type: "Adapter.NotImplemented".into(),
        message: "streaming is not implemented yet".into(),
    }
}
