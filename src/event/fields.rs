//! Event fields a routing app needs that upstream never hands over (upstream issue #135):
//! an API Gateway event's path parameters and stage variables, as two JSON request headers
//! when `AWS_LWA_EVENT_FIELDS_AS_HEADERS` is on.
//!
//! - `x-amzn-path-parameters`: `pathParameters` (`{"id":"42"}`, `{"proxy":"a/b"}`).
//! - `x-amzn-stage-variables`: `stageVariables` (`{"backend":"blue"}`).
//!
//! Each is the event's object in compact JSON, its keys in the event's order, or `null` when
//! the event has none (every ALB, VPC Lattice and pass-through event, a Function URL, a route
//! without parameters). The route template itself is already in `x-amzn-request-context`
//! (`resourcePath` for REST, `routeKey` for HTTP APIs), so it gets no header of its own.
//! Neither header can come from the client: an event header of either name is dropped,
//! whether the option is on or off (DECISIONS 33).

use serde_json::value::RawValue;

use super::headers::{PATH_PARAMETERS_HEADER, STAGE_VARIABLES_HEADER, header_safe_json};
use crate::json;

/// The two headers for an event's `pathParameters` and `stageVariables` (absent: `None`).
/// `Err` (a 400 message) when one is there but is neither an object nor `null`.
pub fn headers(
    path_parameters: Option<&RawValue>,
    stage_variables: Option<&RawValue>,
) -> Result<[(String, String); 2], String> {
    Ok([
        (
            PATH_PARAMETERS_HEADER.to_string(),
            object_or_null("pathParameters", path_parameters)?,
        ),
        (
            STAGE_VARIABLES_HEADER.to_string(),
            object_or_null("stageVariables", stage_variables)?,
        ),
    ])
}

/// The compact JSON of `raw` when it is an object, `null` when it is absent or `null`.
fn object_or_null(field: &str, raw: Option<&RawValue>) -> Result<String, String> {
    let text = raw.map_or("null", |raw| raw.get().trim());
    if text == "null" {
        return Ok("null".to_string());
    }
    if !text.starts_with('{') {
        return Err(format!("{field} is not an object"));
    }
    let mut out = Vec::with_capacity(text.len());
    json::push_minified(&mut out, text);
    Ok(header_safe_json(json::into_string(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn objects_are_compacted_in_event_order_and_absent_is_null() {
        let params = raw("{ \"b\": \"2\",\n \"a\": \"x y\" }");
        let [p, s] = headers(Some(&params), None).unwrap();
        assert_eq!(
            p,
            (
                PATH_PARAMETERS_HEADER.into(),
                r#"{"b":"2","a":"x y"}"#.into()
            )
        );
        assert_eq!(s, (STAGE_VARIABLES_HEADER.into(), "null".into()));
        let null = raw("null");
        assert_eq!(headers(None, Some(&null)).unwrap()[1].1, "null");
        // A control byte HTTP forbids is removed, as from the context headers.
        let del = raw("{\"a\":\"x\u{7f}\"}");
        assert_eq!(headers(Some(&del), None).unwrap()[0].1, r#"{"a":"x"}"#);
    }

    #[test]
    fn other_values_are_refused() {
        for bad in ["[]", "\"x\"", "1"] {
            let value = raw(bad);
            let message = headers(None, Some(&value)).unwrap_err();
            assert_eq!(message, "stageVariables is not an object");
        }
    }
}
