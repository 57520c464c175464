//! The maps of an event (headers, query parameters) as the event writes them, in its own
//! key order, and the single/multi-value merge of REST v1 and ALB.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A map of an event (headers, query parameters) in the event's own key order:
/// `name -> value` or `name -> [values]`; `null` is empty. (`serde_json::Value` would sort
/// the keys, and upstream's `HashMap` order is random: event order keeps the request
/// deterministic, DECISIONS 7.)
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EventMap(pub Vec<(String, Vec<String>)>);

/// An event's headers (`headers` or `multiValueHeaders`).
pub type EventHeaders = EventMap;

impl EventMap {
    /// The values of `name` when it has at least one (exact or ASCII-case-insensitive match).
    fn has_values(&self, name: &str, ignore_case: bool) -> bool {
        self.0.iter().any(|(n, values)| {
            !values.is_empty()
                && if ignore_case {
                    n.eq_ignore_ascii_case(name)
                } else {
                    n == name
                }
        })
    }
}

impl<'de> Deserialize<'de> for EventMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = EventMap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of names to strings or arrays of strings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<EventMap, E> {
                Ok(EventMap::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<EventMap, E> {
                Ok(EventMap::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<EventMap, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventMap, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let values = map.next_value::<StringOrList>()?.0;
                    out.push((name, values));
                }
                Ok(EventMap(out))
            }
        }
        deserializer.deserialize_option(MapVisitor)
    }
}

/// REST v1 and ALB carry each map twice, single-value and multi-value. The multi-value entry
/// wins for a name in both, so the app sees every value; names only in the single-value map
/// are added after (DECISIONS 6). Both keep the event's order (DECISIONS 7). Header names
/// compare case-insensitively, query names exactly.
pub fn merge_multi<'a>(
    multi: &'a EventMap,
    single: &'a EventMap,
    ignore_case: bool,
) -> Vec<(&'a str, &'a [String])> {
    let mut out: Vec<(&str, &[String])> = Vec::with_capacity(multi.0.len().max(single.0.len()));
    for (name, values) in &multi.0 {
        if !values.is_empty() {
            out.push((name, values));
        }
    }
    for (name, values) in &single.0 {
        if !multi.has_values(name, ignore_case) {
            out.push((name, values));
        }
    }
    out
}

/// A JSON string, an array of strings, or null (no values).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StringOrList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOrList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringOrList, E> {
                Ok(StringOrList(vec![v.to_string()]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<StringOrList, E> {
                Ok(StringOrList(vec![v]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringOrList, E> {
                Ok(StringOrList(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringOrList, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    out.push(v);
                }
                Ok(StringOrList(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `null` and absent both mean `false`.
pub fn null_as_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// Borrowed when the event's JSON string had no escapes (bodies usually don't).
pub type Text<'a> = Cow<'a, str>;
