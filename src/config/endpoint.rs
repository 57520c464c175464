//! Where the Lambda APIs live: `AWS_LAMBDA_RUNTIME_API`, and the Runtime API proxy.

use std::net::SocketAddr;

use super::error::{ConfigError, invalid};
use super::values::literal_ip;

/// Where a Lambda API (Runtime or Extensions) lives: an address plus an optional path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiEndpoint {
    /// `host:port`, as written in the `Host` header.
    pub authority: String,
    /// The address to connect to (the host is an IP literal or `localhost`: Lambda's API
    /// addresses are IPs, and a static binary has no system resolver to ask).
    pub addr: SocketAddr,
    /// Path prefix without a trailing slash (`""` for none).
    pub prefix: String,
}

impl ApiEndpoint {
    /// Accepts `host:port`, `http://host:port` and `http://host:port/prefix`.
    pub fn parse(value: &str) -> Result<ApiEndpoint, String> {
        let rest = match value.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(format!("the scheme '{scheme}' is not supported, only http"));
            }
            None => value,
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let form = "expected host:port, http://host:port or http://host:port/prefix";
        let (host, port) = authority.rsplit_once(':').ok_or(form)?;
        let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or(form)?;
        let ip = literal_ip(host)
            .ok_or_else(|| format!("the host {host:?} is not an IP address or localhost"))?;
        Ok(ApiEndpoint {
            authority: authority.to_string(),
            addr: SocketAddr::new(ip, port),
            prefix: prefix.to_string(),
        })
    }

    /// The full URL of `path` (which starts with `/`) on this endpoint.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}{}", self.authority, self.prefix, path)
    }
}

/// The Extensions API address, and the Runtime API address (which the proxy may redirect).
/// Also used on the configuration-error path, so it stands alone.
pub fn parse_api_endpoints(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(ApiEndpoint, ApiEndpoint), ConfigError> {
    let base = match lookup("AWS_LAMBDA_RUNTIME_API") {
        Some(value) => ApiEndpoint::parse(&value)
            .map_err(|why| invalid("AWS_LAMBDA_RUNTIME_API", &value, &why))?,
        None => {
            return Err(invalid(
                "AWS_LAMBDA_RUNTIME_API",
                "",
                "not set: lambda-adapter runs as a Lambda extension, and Lambda (or an emulator) sets this variable",
            ));
        }
    };
    let runtime = match lookup("AWS_LWA_LAMBDA_RUNTIME_API_PROXY") {
        Some(value) if !value.is_empty() => ApiEndpoint::parse(&value)
            .map_err(|why| invalid("AWS_LWA_LAMBDA_RUNTIME_API_PROXY", &value, &why))?,
        _ => base.clone(),
    };
    Ok((base, runtime))
}
