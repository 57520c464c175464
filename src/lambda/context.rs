//! The mobile-SDK parts of an invocation's context, `Lambda-Runtime-Client-Context` and
//! `Lambda-Runtime-Cognito-Identity`, read and written as upstream (lambda_runtime's
//! `ClientContext` and `CognitoIdentity`) writes them into `x-amzn-lambda-context`: whatever
//! the header spells, the app receives the same keys, in the same order.
//!
//! - client context: `{"client":{"installationId","appTitle","appVersionName","appVersionCode",
//!   "appPackageName"},"custom":{..},"environment":{..}}`. The client's fields are read in
//!   camelCase or snake_case (`installation_id`, ...); a missing `client` is five empty strings,
//!   missing `custom`/`environment` are `{}`, other keys (the SDK's `env` too) are dropped.
//! - identity: `{"identityId","identityPoolId"}`, read as those names, as `cognitoIdentityId` /
//!   `cognitoIdentityPoolId` (what the Runtime API sends) or in snake_case.
//!
//! Where upstream fails the whole invocation (a client field or an identity field missing, a
//! value that is not a string), we do not (DECISIONS 3, 30): a missing field is an empty
//! string with a warning, a value of the wrong type makes the whole header `null` with a
//! warning.
//! Map keys keep the header's order; upstream's order is random (DECISIONS 26).

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::json;

/// The client fields, as written, with the spellings a header may use for each.
const CLIENT_FIELDS: [(&str, &str); 5] = [
    ("installationId", "installation_id"),
    ("appTitle", "app_title"),
    ("appVersionName", "app_version_name"),
    ("appVersionCode", "app_version_code"),
    ("appPackageName", "app_package_name"),
];

/// `Lambda-Runtime-Client-Context`, normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientContext {
    /// The values of [`CLIENT_FIELDS`], in that order.
    pub client: [String; 5],
    pub custom: Vec<(String, String)>,
    pub environment: Vec<(String, String)>,
}

/// `Lambda-Runtime-Cognito-Identity`, normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CognitoIdentity {
    pub identity_id: String,
    pub identity_pool_id: String,
}

/// A JSON object's members in its own order, values still raw.
struct Object<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

impl<'a> Object<'a> {
    /// The last value of the first of `names` present and not `null` (as serde's last-wins).
    fn get(&self, names: &[&str]) -> Option<&'a RawValue> {
        names.iter().find_map(|name| {
            self.0
                .iter()
                .rev()
                .find(|(key, value)| key == name && value.get() != "null")
                .map(|(_, value)| *value)
        })
    }
}

/// Parses a header's JSON; `Ok(None)` for `null`.
fn object(text: &str) -> Result<Option<Object<'_>>, String> {
    if text.trim() == "null" {
        return Ok(None);
    }
    serde_json::from_str::<Object>(text)
        .map(Some)
        .map_err(|e| format!("not valid JSON, or not an object: {e}"))
}

/// A string member: `Ok(None)` when missing, `Err` when it is not a string.
fn string(object: &Object, names: &[&str]) -> Result<Option<String>, String> {
    match object.get(names) {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .map(Some)
            .map_err(|_| format!("{} is not a string", names.first().unwrap_or(&""))),
    }
}

/// A map of strings, in its own order, a repeated key keeping its first place and last value.
fn string_map(object: &Object, name: &str) -> Result<Vec<(String, String)>, String> {
    let Some(raw) = object.get(&[name]) else {
        return Ok(Vec::new());
    };
    let members = serde_json::from_str::<Object>(raw.get())
        .map_err(|_| format!("{name} is not an object"))?;
    let mut out: Vec<(String, String)> = Vec::with_capacity(members.0.len());
    for (key, value) in members.0 {
        let value = serde_json::from_str::<String>(value.get())
            .map_err(|_| format!("{name}.{key} is not a string"))?;
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key.into_owned(), value)),
        }
    }
    Ok(out)
}

impl ClientContext {
    /// Reads a `Lambda-Runtime-Client-Context` value. Missing client fields are listed in
    /// `warnings`; `Err` says why the value cannot be used at all.
    pub fn parse(text: &str, warnings: &mut Vec<String>) -> Result<Option<ClientContext>, String> {
        let Some(top) = object(text)? else {
            return Ok(None);
        };
        let mut context = ClientContext::default();
        if let Some(raw) = top.get(&["client"]) {
            let client = serde_json::from_str::<Object>(raw.get())
                .map_err(|_| "client is not an object".to_string())?;
            let mut missing = Vec::new();
            for ((camel, snake), slot) in CLIENT_FIELDS.iter().zip(context.client.iter_mut()) {
                match string(&client, &[camel, snake]).map_err(|e| format!("client.{e}"))? {
                    Some(value) => *slot = value,
                    None => missing.push(*camel),
                }
            }
            if !missing.is_empty() {
                warnings.push(format!(
                    "Lambda-Runtime-Client-Context has no client {}; sending \"\"",
                    missing.join(", ")
                ));
            }
        }
        context.custom = string_map(&top, "custom")?;
        context.environment = string_map(&top, "environment")?;
        Ok(Some(context))
    }

    /// Appends the JSON upstream writes.
    pub fn push_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"client\":{");
        for (i, ((name, _), value)) in CLIENT_FIELDS.iter().zip(&self.client).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::push_str(out, name);
            out.push(b':');
            json::push_str(out, value);
        }
        out.extend_from_slice(b"},\"custom\":");
        push_string_map(out, &self.custom);
        out.extend_from_slice(b",\"environment\":");
        push_string_map(out, &self.environment);
        out.push(b'}');
    }
}

impl CognitoIdentity {
    /// Reads a `Lambda-Runtime-Cognito-Identity` value, like [`ClientContext::parse`].
    pub fn parse(
        text: &str,
        warnings: &mut Vec<String>,
    ) -> Result<Option<CognitoIdentity>, String> {
        let Some(top) = object(text)? else {
            return Ok(None);
        };
        let mut missing: Vec<&'static str> = Vec::new();
        let mut field = |names: &[&'static str]| -> Result<String, String> {
            Ok(string(&top, names)?.unwrap_or_else(|| {
                missing.push(names.first().copied().unwrap_or_default());
                String::new()
            }))
        };
        let identity = CognitoIdentity {
            identity_id: field(&["identityId", "cognitoIdentityId", "identity_id"])?,
            identity_pool_id: field(&[
                "identityPoolId",
                "cognitoIdentityPoolId",
                "identity_pool_id",
            ])?,
        };
        if !missing.is_empty() {
            warnings.push(format!(
                "Lambda-Runtime-Cognito-Identity has no {}; sending \"\"",
                missing.join(", ")
            ));
        }
        Ok(Some(identity))
    }

    /// Appends the JSON upstream writes.
    pub fn push_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"identityId\":");
        json::push_str(out, &self.identity_id);
        out.extend_from_slice(b",\"identityPoolId\":");
        json::push_str(out, &self.identity_pool_id);
        out.push(b'}');
    }
}

fn push_string_map(out: &mut Vec<u8>, map: &[(String, String)]) {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::push_str(out, key);
        out.push(b':');
        json::push_str(out, value);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> (Result<Option<String>, String>, Vec<String>) {
        let mut warnings = Vec::new();
        let parsed = ClientContext::parse(text, &mut warnings).map(|c| {
            c.map(|c| {
                let mut out = Vec::new();
                c.push_json(&mut out);
                String::from_utf8(out).unwrap()
            })
        });
        (parsed, warnings)
    }

    fn identity(text: &str) -> (Result<Option<String>, String>, Vec<String>) {
        let mut warnings = Vec::new();
        let parsed = CognitoIdentity::parse(text, &mut warnings).map(|c| {
            c.map(|c| {
                let mut out = Vec::new();
                c.push_json(&mut out);
                String::from_utf8(out).unwrap()
            })
        });
        (parsed, warnings)
    }

    #[test]
    fn client_context_keys_are_upstreams_whatever_the_header_spells() {
        let want = r#"{"client":{"installationId":"i","appTitle":"t","appVersionName":"n","appVersionCode":"c","appPackageName":"p"},"custom":{"z":"1","a":"2"},"environment":{}}"#;
        for text in [
            r#"{"client":{"installation_id":"i","app_title":"t","app_version_name":"n","app_version_code":"c","app_package_name":"p"},"custom":{"z":"1","a":"2"},"env":{"platform":"Android"}}"#,
            r#"{"custom":{"z":"1","a":"2"},"client":{"appPackageName":"p","appVersionCode":"c","appVersionName":"n","appTitle":"t","installationId":"i","extra":"x"}}"#,
            r#"{"client":{"installation_id":"i","appTitle":"t","app_version_name":"n","appVersionCode":"c","app_package_name":"p"},"custom":{"z":"0","a":"2","z":"1"},"environment":null}"#,
        ] {
            let (parsed, warnings) = client(text);
            assert_eq!(parsed.unwrap().unwrap(), want, "{text}");
            assert!(warnings.is_empty(), "{warnings:?}");
        }
    }

    #[test]
    fn missing_client_fields_are_empty_with_a_warning() {
        let (parsed, warnings) = client(r#"{"client":{"app_title":"t"}}"#);
        assert_eq!(
            parsed.unwrap().unwrap(),
            r#"{"client":{"installationId":"","appTitle":"t","appVersionName":"","appVersionCode":"","appPackageName":""},"custom":{},"environment":{}}"#
        );
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("installationId, appVersionName"),
            "{warnings:?}"
        );
        let (parsed, warnings) = client("{}");
        assert_eq!(
            parsed.unwrap().unwrap(),
            r#"{"client":{"installationId":"","appTitle":"","appVersionName":"","appVersionCode":"","appPackageName":""},"custom":{},"environment":{}}"#
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn unusable_values_are_errors_and_null_is_none() {
        for bad in [
            r#"{"custom":{"a":1}}"#,
            r#"{"client":{"app_title":5}}"#,
            r#"{"client":"x"}"#,
            r#"{"environment":[]}"#,
            "[1]",
            "{bad",
        ] {
            assert!(client(bad).0.is_err(), "{bad}");
        }
        assert_eq!(client("null").0, Ok(None));
        assert!(identity(r#"{"cognitoIdentityId":1}"#).0.is_err());
        assert_eq!(identity(" null ").0, Ok(None));
    }

    #[test]
    fn identity_keys_are_upstreams() {
        let want = r#"{"identityId":"x","identityPoolId":"p"}"#;
        for text in [
            r#"{"cognitoIdentityId":"x","cognitoIdentityPoolId":"p"}"#,
            r#"{"identity_id":"x","identity_pool_id":"p","z":1}"#,
            r#"{"identityPoolId":"p","identityId":"x"}"#,
        ] {
            let (parsed, warnings) = identity(text);
            assert_eq!(parsed.unwrap().unwrap(), want, "{text}");
            assert!(warnings.is_empty());
        }
        let (parsed, warnings) = identity(r#"{"cognitoIdentityId":"x"}"#);
        assert_eq!(
            parsed.unwrap().unwrap(),
            r#"{"identityId":"x","identityPoolId":""}"#
        );
        assert_eq!(warnings.len(), 1);
    }
}
