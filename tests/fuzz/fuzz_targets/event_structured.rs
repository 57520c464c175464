//! Structure-aware events: JSON events of every source (REST v1, HTTP API v2, Function URL,
//! ALB, VPC Lattice 2.0 and 1.0, WebSocket, pass-through) whose fields are built from arbitrary values — paths with
//! unicode, `%` and dots, queries, header maps and multi-value maps with arbitrary names and
//! values (control bytes included), cookies, base64 and text bodies, nulls and wrong types —
//! so the fuzzer spends its time past JSON syntax, inside the conversion rules.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;

/// Pieces that matter to the request rules.
const PIECES: &[&str] = &[
    "/",
    "%",
    "%2e",
    "%2E",
    "..",
    ".",
    "%00",
    "%zz",
    "%C3%A9",
    "é",
    "😀",
    " ",
    "\r\n",
    "\r",
    "\n",
    "\0",
    "\t",
    "\u{b}",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "#",
    "?",
    "&",
    "=",
    "+",
    "\\",
    "<",
    ">",
    "\"",
    "'",
    "`",
    "{",
    "}",
    "[::1]",
    ":",
    "@",
    "a",
    "api",
    "/api",
    ";",
    ",",
    "host",
    "Host",
    "content-length",
    "transfer-encoding",
    "cookie",
    "x-auth",
    "x-amzn-lambda-context",
    "x-amz-tenant-id",
    "x-amzn-path-parameters",
    "chunked",
    "8080",
    "99999",
    "GET",
];

#[derive(Arbitrary, Debug)]
enum Piece {
    Known(u8),
    Char(char),
    Text(String),
}

#[derive(Arbitrary, Debug)]
struct Text(Vec<Piece>);

impl Text {
    fn build(&self) -> String {
        let mut s = String::new();
        for piece in self.0.iter().take(24) {
            match piece {
                Piece::Known(i) => s.push_str(PIECES[*i as usize % PIECES.len()]),
                Piece::Char(c) => s.push(*c),
                Piece::Text(t) => s.push_str(t),
            }
        }
        s
    }
}

/// A JSON value in a field's place: usually the right type, sometimes null, absent or wrong.
#[derive(Arbitrary, Debug)]
enum Field<T> {
    Right(T),
    Absent,
    Null,
    Number(i64),
    Float(f64),
    Bool(bool),
    EmptyArray,
    EmptyObject,
    Str(Text),
}

trait Json {
    fn json(&self) -> String;
}

impl Json for Text {
    fn json(&self) -> String {
        serde_json::to_string(&self.build()).unwrap_or_default()
    }
}

impl Json for bool {
    fn json(&self) -> String {
        self.to_string()
    }
}

/// A string field with a likely value.
#[derive(Arbitrary, Debug)]
enum Known {
    Pick(u8),
    Any(Text),
}

impl Known {
    fn build(&self, choices: &[&str]) -> String {
        match self {
            Known::Pick(i) if !choices.is_empty() => {
                choices[*i as usize % choices.len()].to_string()
            }
            Known::Pick(_) => String::new(),
            Known::Any(t) => t.build(),
        }
    }
}

const METHODS: &[&str] = &[
    "GET", "POST", "get", "", "PURGE", "G ET", "GET\r\n", "DELETE",
];

#[derive(Arbitrary, Debug)]
struct Method(Known);

impl Json for Method {
    fn json(&self) -> String {
        serde_json::to_string(&self.0.build(METHODS)).unwrap_or_default()
    }
}

#[derive(Arbitrary, Debug)]
enum MapValue {
    One(Text),
    Many(Vec<Text>),
    Null,
    Wrong(i64),
}

/// A header or query map; names may repeat (duplicate JSON keys).
#[derive(Arbitrary, Debug)]
struct Map(Vec<(Known, MapValue)>);

const NAMES: &[&str] = &[
    "host",
    "Host",
    "content-type",
    "cookie",
    "x-auth",
    "content-length",
    "Transfer-Encoding",
    "connection",
    "x-forwarded-proto",
    "x-amzn-trace-id",
    "x-amz-tenant-id",
    "accept-encoding",
    "bad name",
    "x\r\ny",
    "",
    "é",
    "a",
];

impl Map {
    fn json(&self, single_only: bool) -> String {
        let mut out = String::from("{");
        for (i, (name, value)) in self.0.iter().take(12).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(&name.build(NAMES)).unwrap_or_default());
            out.push(':');
            let v = match value {
                MapValue::One(t) if single_only => t.json(),
                MapValue::One(t) => format!("[{}]", t.json()),
                MapValue::Many(list) if single_only => {
                    list.first().map(Json::json).unwrap_or("\"\"".into())
                }
                MapValue::Many(list) => {
                    format!(
                        "[{}]",
                        list.iter()
                            .take(6)
                            .map(Json::json)
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }
                MapValue::Null => "null".into(),
                MapValue::Wrong(n) => n.to_string(),
            };
            out.push_str(&v);
        }
        out.push('}');
        out
    }
}

struct SingleMap<'a>(&'a Map);
struct MultiMap<'a>(&'a Map);

#[derive(Arbitrary, Debug)]
enum Body {
    Text(Text),
    Base64(Vec<u8>),
    /// Claimed base64 but arbitrary text.
    BadBase64(Text),
}

#[derive(Arbitrary, Debug)]
enum Source {
    RestV1,
    HttpV2,
    FunctionUrl,
    Alb,
    LatticeV2,
    LatticeV1,
    WebSocket,
    PassThrough,
}

#[derive(Arbitrary, Debug)]
struct Event {
    source: Source,
    variant: u8,
    path: Field<Text>,
    method: Field<Method>,
    context_method: Field<Method>,
    query: Field<Text>,
    headers: Field<Map>,
    multi_headers: Field<Map>,
    params: Field<Map>,
    multi_params: Field<Map>,
    cookies: Field<Vec<Text>>,
    body: Option<Body>,
    base64_flag: Field<bool>,
    domain: Field<Text>,
    extra: Vec<(Text, Field<Text>)>,
}

/// Writes `"key":value` for a field unless it is absent.
fn field<T>(out: &mut Vec<String>, key: &str, f: &Field<T>, right: impl FnOnce(&T) -> String) {
    let v = match f {
        Field::Right(t) => right(t),
        Field::Absent => return,
        Field::Null => "null".into(),
        Field::Number(n) => n.to_string(),
        Field::Float(x) if x.is_finite() => x.to_string(),
        Field::Float(_) => "1e400".into(),
        Field::Bool(b) => b.to_string(),
        Field::EmptyArray => "[]".into(),
        Field::EmptyObject => "{}".into(),
        Field::Str(t) => t.json(),
    };
    out.push(format!(
        "{}:{v}",
        serde_json::to_string(key).unwrap_or_default()
    ));
}

fn object(fields: Vec<String>) -> String {
    format!("{{{}}}", fields.join(","))
}

impl Event {
    fn body_fields(&self, out: &mut Vec<String>) {
        let (body, flag) = match &self.body {
            None => return,
            Some(Body::Text(t)) => (t.json(), false),
            Some(Body::Base64(bytes)) => (format!("\"{}\"", STANDARD.encode(bytes)), true),
            Some(Body::BadBase64(t)) => (t.json(), true),
        };
        out.push(format!("\"body\":{body}"));
        // Lattice 1.0 spells its fields in snake_case.
        let flag_key = match self.source {
            Source::LatticeV1 => "is_base64_encoded",
            _ => "isBase64Encoded",
        };
        match &self.base64_flag {
            Field::Absent => out.push(format!("\"{flag_key}\":{flag}")),
            f => field(out, flag_key, f, |b| b.to_string()),
        }
    }

    fn extra(&self, out: &mut Vec<String>) {
        for (key, value) in self.extra.iter().take(4) {
            field(out, &key.build(), value, Json::json);
        }
    }

    fn json(&self) -> String {
        let mut f = Vec::new();
        match self.source {
            Source::RestV1 | Source::WebSocket => {
                field(&mut f, "path", &self.path, Json::json);
                if matches!(self.source, Source::RestV1) {
                    field(&mut f, "httpMethod", &self.method, Json::json);
                }
                field(&mut f, "headers", &self.headers, |m| SingleMap(m).json());
                field(&mut f, "multiValueHeaders", &self.multi_headers, |m| {
                    MultiMap(m).json()
                });
                field(&mut f, "queryStringParameters", &self.params, |m| {
                    SingleMap(m).json()
                });
                field(
                    &mut f,
                    "multiValueQueryStringParameters",
                    &self.multi_params,
                    |m| MultiMap(m).json(),
                );
                let mut c = Vec::new();
                field(&mut c, "httpMethod", &self.context_method, Json::json);
                field(&mut c, "domainName", &self.domain, Json::json);
                c.push("\"stage\":\"prod\"".into());
                c.push("\"identity\":{\"sourceIp\":\"127.0.0.1\"}".into());
                if matches!(self.source, Source::WebSocket) {
                    c.push("\"routeKey\":\"$default\",\"eventType\":\"MESSAGE\",\"connectionId\":\"abc=\"".into());
                }
                f.push(format!("\"requestContext\":{}", object(c)));
            }
            Source::HttpV2 | Source::FunctionUrl => {
                f.push("\"version\":\"2.0\"".into());
                field(&mut f, "rawPath", &self.path, Json::json);
                field(&mut f, "rawQueryString", &self.query, Json::json);
                field(&mut f, "cookies", &self.cookies, |list| {
                    format!(
                        "[{}]",
                        list.iter()
                            .take(6)
                            .map(Json::json)
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                });
                field(&mut f, "headers", &self.headers, |m| SingleMap(m).json());
                field(&mut f, "queryStringParameters", &self.params, |m| {
                    SingleMap(m).json()
                });
                let mut http = Vec::new();
                field(&mut http, "method", &self.method, Json::json);
                http.push("\"sourceIp\":\"127.0.0.1\"".into());
                let mut c = vec![format!("\"http\":{}", object(http))];
                field(&mut c, "domainName", &self.domain, Json::json);
                if matches!(self.source, Source::FunctionUrl) {
                    c.push(
                        "\"domainPrefix\":\"abc\",\"authorizer\":{\"iam\":{\"userId\":\"u\"}}"
                            .into(),
                    );
                }
                f.push(format!("\"requestContext\":{}", object(c)));
            }
            Source::Alb => {
                field(&mut f, "httpMethod", &self.method, Json::json);
                field(&mut f, "path", &self.path, Json::json);
                field(&mut f, "headers", &self.headers, |m| SingleMap(m).json());
                field(&mut f, "multiValueHeaders", &self.multi_headers, |m| {
                    MultiMap(m).json()
                });
                field(&mut f, "queryStringParameters", &self.params, |m| {
                    SingleMap(m).json()
                });
                field(
                    &mut f,
                    "multiValueQueryStringParameters",
                    &self.multi_params,
                    |m| MultiMap(m).json(),
                );
                f.push("\"requestContext\":{\"elb\":{\"targetGroupArn\":\"arn:aws:elasticloadbalancing:x\"}}".into());
            }
            Source::LatticeV2 => {
                f.push("\"version\":\"2.0\"".into());
                field(&mut f, "method", &self.method, Json::json);
                field(&mut f, "path", &self.path, Json::json);
                field(&mut f, "headers", &self.multi_headers, |m| MultiMap(m).json());
                field(&mut f, "queryStringParameters", &self.multi_params, |m| {
                    MultiMap(m).json()
                });
                let mut c = vec![
                    "\"serviceArn\":\"arn:aws:vpc-lattice:us-east-1:1:service/svc-1\"".to_string(),
                    "\"identity\":{\"type\":\"AWS_IAM\"}".into(),
                ];
                field(&mut c, "region", &self.domain, Json::json);
                f.push(format!("\"requestContext\":{}", object(c)));
            }
            Source::LatticeV1 => {
                field(&mut f, "method", &self.method, Json::json);
                field(&mut f, "raw_path", &self.path, Json::json);
                field(&mut f, "headers", &self.headers, |m| SingleMap(m).json());
                field(&mut f, "query_string_parameters", &self.params, |m| {
                    SingleMap(m).json()
                });
            }
            Source::PassThrough => {
                let mut record = Vec::new();
                field(&mut record, "body", &self.path, Json::json);
                field(&mut record, "messageAttributes", &self.headers, |m| {
                    SingleMap(m).json()
                });
                f.push(format!("\"Records\":[{}]", object(record)));
            }
        }
        self.body_fields(&mut f);
        self.extra(&mut f);
        object(f)
    }
}

impl SingleMap<'_> {
    fn json(&self) -> String {
        self.0.json(true)
    }
}

impl MultiMap<'_> {
    fn json(&self) -> String {
        self.0.json(false)
    }
}

/// Whether a field holds a value detection counts as present (anything but absent or null).
fn present<T>(f: &Field<T>) -> bool {
    !matches!(f, Field::Absent | Field::Null)
}

fuzz_target!(|event: Event| {
    let json = event.json();
    let source = fuzz_checks::check_event(json.as_bytes(), event.variant as usize);
    // Detection looks at the shape markers only: an HTTP event with malformed fields is still
    // that source (answered 400), never a silent pass-through (DECISIONS 2). Extra keys may
    // repeat a marker (a duplicate key), so only events without them are checked.
    if event.extra.is_empty() {
        use lambda_adapter::event::Source as S;
        let want = match event.source {
            Source::RestV1 if present(&event.method) && present(&event.context_method) => {
                Some(S::RestV1)
            }
            Source::HttpV2 | Source::FunctionUrl => Some(S::HttpV2),
            Source::Alb if present(&event.method) => Some(S::Alb),
            Source::LatticeV2 if present(&event.method) => Some(S::LatticeV2),
            Source::LatticeV1 if present(&event.method) && present(&event.path) => {
                Some(S::LatticeV1)
            }
            Source::PassThrough => Some(S::PassThrough),
            _ => None,
        };
        if want.is_some() {
            assert_eq!(source, want, "detected as {source:?}: {json}");
        }
    }
});
