//! The variables of the lifecycle features, both opt-in: the idle check that holds the next
//! `/next` until the app's work after the response is done (`AWS_LWA_IDLE_CHECK_PATH`), and
//! the adapter's metrics in CloudWatch Embedded Metric Format (`AWS_LWA_ENABLE_METRICS`,
//! `AWS_LWA_METRICS_NAMESPACE`).

use super::error::{ConfigError, invalid};
use super::values::{parse_bool, parse_readiness_path};

/// The namespace the metrics go to unless `AWS_LWA_METRICS_NAMESPACE` says otherwise.
pub const DEFAULT_METRICS_NAMESPACE: &str = "LambdaAdapter";

/// `AWS_LWA_ENABLE_METRICS=true`: what the metric lines need to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The CloudWatch namespace of every metric.
    pub namespace: String,
}

/// `AWS_LWA_IDLE_CHECK_PATH`: the path to poll after each response, or `None`. Ignored, with
/// a warning, when the environment serves invocations concurrently (Lambda Managed Instances
/// never freeze it, so work after the response runs on without holding anything).
pub(crate) fn idle_check_path(
    lookup: &impl Fn(&str) -> Option<String>,
    max_concurrency: usize,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, ConfigError> {
    const VAR: &str = "AWS_LWA_IDLE_CHECK_PATH";
    let Some(value) = lookup(VAR) else {
        return Ok(None);
    };
    let path = parse_readiness_path(VAR, value)?;
    if max_concurrency > 1 {
        warnings.push(format!(
            "{VAR} is ignored with AWS_LAMBDA_MAX_CONCURRENCY={max_concurrency}: Lambda Managed Instances do not freeze the environment, so work after the response goes on without it"
        ));
        return Ok(None);
    }
    Ok(Some(path))
}

/// `AWS_LWA_ENABLE_METRICS` and `AWS_LWA_METRICS_NAMESPACE`; `None` when metrics are off.
pub(crate) fn metrics(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<MetricsConfig>, ConfigError> {
    let enabled = match lookup("AWS_LWA_ENABLE_METRICS") {
        Some(value) => parse_bool("AWS_LWA_ENABLE_METRICS", &value)?,
        None => false,
    };
    let namespace = match lookup("AWS_LWA_METRICS_NAMESPACE") {
        Some(value) => parse_namespace(&value)?,
        None => DEFAULT_METRICS_NAMESPACE.to_string(),
    };
    Ok(enabled.then_some(MetricsConfig { namespace }))
}

/// CloudWatch's rules for a custom namespace: 1-255 characters from letters, digits and
/// `. - _ / # : ` and space, not starting with `AWS/` (reserved for AWS's own metrics).
fn parse_namespace(value: &str) -> Result<String, ConfigError> {
    const VAR: &str = "AWS_LWA_METRICS_NAMESPACE";
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if value.is_empty() || value.len() > 255 || !value.chars().all(allowed) {
        return Err(invalid(
            VAR,
            value,
            "expected 1 to 255 letters, digits, spaces or . - _ / # :, such as 'MyApp/Adapter'",
        ));
    }
    if value.starts_with("AWS/") {
        return Err(invalid(
            VAR,
            value,
            "namespaces starting with 'AWS/' are reserved for AWS's own metrics",
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn idle_check_is_off_by_default_and_under_managed_instances() {
        let mut warnings = Vec::new();
        assert_eq!(idle_check_path(&lookup(&[]), 1, &mut warnings), Ok(None));
        let set = lookup(&[("AWS_LWA_IDLE_CHECK_PATH", "/_lambda/idle")]);
        assert_eq!(
            idle_check_path(&set, 1, &mut warnings),
            Ok(Some("/_lambda/idle".to_string()))
        );
        assert!(warnings.is_empty());
        assert_eq!(idle_check_path(&set, 4, &mut warnings), Ok(None));
        assert!(warnings[0].contains("AWS_LAMBDA_MAX_CONCURRENCY=4"));
    }

    #[test]
    fn idle_check_path_must_be_a_path() {
        let err = idle_check_path(
            &lookup(&[("AWS_LWA_IDLE_CHECK_PATH", "idle")]),
            1,
            &mut vec![],
        )
        .unwrap_err();
        assert_eq!(err.variable, "AWS_LWA_IDLE_CHECK_PATH");
    }

    #[test]
    fn metrics_are_opt_in_with_a_checked_namespace() {
        assert_eq!(metrics(&lookup(&[])), Ok(None));
        assert_eq!(
            metrics(&lookup(&[("AWS_LWA_ENABLE_METRICS", "on")])),
            Ok(Some(MetricsConfig {
                namespace: DEFAULT_METRICS_NAMESPACE.into()
            }))
        );
        assert_eq!(
            metrics(&lookup(&[
                ("AWS_LWA_ENABLE_METRICS", "true"),
                ("AWS_LWA_METRICS_NAMESPACE", "Shop/Checkout API")
            ])),
            Ok(Some(MetricsConfig {
                namespace: "Shop/Checkout API".into()
            }))
        );
        for bad in ["", "AWS/Lambda", "emoji✓", "quote\""] {
            let vars: &'static [(&str, &str)] = Box::leak(Box::new([
                ("AWS_LWA_ENABLE_METRICS", "true"),
                ("AWS_LWA_METRICS_NAMESPACE", bad),
            ]));
            let err = metrics(&lookup(vars)).unwrap_err();
            assert_eq!(err.variable, "AWS_LWA_METRICS_NAMESPACE", "{bad}");
        }
        let err = metrics(&lookup(&[("AWS_LWA_ENABLE_METRICS", "emf")])).unwrap_err();
        assert_eq!(err.variable, "AWS_LWA_ENABLE_METRICS");
    }
}
