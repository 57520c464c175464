//! Waiting for the app to be ready before taking invocations (upstream §2.3): an HTTP `GET`
//! whose status must be in the healthy list, or a TCP connect, retried every 2 ms for the first
//! second and every 10 ms (upstream's interval) after that, with a progress line every 2 s.
//! The short interval at first shortens the cold start of a fast app by up to 10 ms for the
//! cost of a few hundred refused connects; a slow-starting app is not polled harder than
//! upstream polls it. Unlike upstream, every attempt is bounded (DECISIONS 18), so an
//! app that accepts connections but never answers cannot hang the check.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::app::connection::Connection;
use crate::app::request::{AppRequest, Prepared};
use crate::app::{response, send};
use crate::config::{Config, ReadinessProtocol};

const FAST_RETRY_INTERVAL: Duration = Duration::from_millis(2);
const FAST_RETRY_FOR: Duration = Duration::from_secs(1);
const RETRY_INTERVAL: Duration = Duration::from_millis(10);
const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);
/// Longest wait for one attempt's connect plus answer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// How a readiness check is done; derived once from the configuration.
#[derive(Clone, Debug)]
pub struct Readiness {
    addr: SocketAddr,
    protocol: ReadinessProtocol,
    /// The request of the HTTP check.
    request: AppRequest,
    healthy: Vec<u16>,
    /// For log lines, as upstream prints it.
    url: String,
}

impl Readiness {
    pub fn new(config: &Config) -> Readiness {
        let authority = format!("{}:{}", config.app_host, config.readiness_port);
        let request = AppRequest {
            method: "GET".into(),
            target: config.readiness_path.clone(),
            headers: vec![
                ("host".into(), authority.clone()),
                ("user-agent".into(), "lambda-adapter readiness check".into()),
                ("connection".into(), "close".into()),
            ],
            body: Vec::new(),
        };
        let url = match config.readiness_protocol {
            ReadinessProtocol::Http => format!("http://{authority}{}", config.readiness_path),
            ReadinessProtocol::Tcp => format!("tcp://{authority}"),
        };
        Readiness {
            addr: config.readiness_addr(),
            protocol: config.readiness_protocol,
            request,
            healthy: config.readiness_healthy_status.clone(),
            url,
        }
    }

    /// Retries until the app is ready (`true`) or `budget` runs out (`false`). Without a
    /// budget it waits as long as Lambda lets the init phase run.
    pub fn wait(&self, budget: Option<Duration>) -> bool {
        let start = Instant::now();
        let mut next_progress = PROGRESS_INTERVAL;
        loop {
            let elapsed = start.elapsed();
            if budget.is_some_and(|b| elapsed >= b) {
                return false;
            }
            if elapsed >= next_progress {
                log::info!(
                    "app is not ready after {}ms url={}",
                    next_progress.as_millis(),
                    self.url
                );
                next_progress += PROGRESS_INTERVAL;
            }
            let limit = budget.map_or(ATTEMPT_TIMEOUT, |b| {
                ATTEMPT_TIMEOUT.min(b.saturating_sub(elapsed))
            });
            match self.check_once(limit) {
                Ok(()) => {
                    log::debug!("app is ready");
                    return true;
                }
                Err(why) => log::trace!("app is not ready: {why}"),
            }
            std::thread::sleep(if start.elapsed() < FAST_RETRY_FOR {
                FAST_RETRY_INTERVAL
            } else {
                RETRY_INTERVAL
            });
        }
    }

    /// One attempt, bounded by `limit` as a whole: connect, request and response head,
    /// however slowly the app drips its bytes or how many interim responses it sends.
    pub fn check_once(&self, limit: Duration) -> Result<(), String> {
        let limit = limit.max(Duration::from_millis(1));
        let deadline = Instant::now() + limit;
        if self.protocol == ReadinessProtocol::Tcp {
            return TcpStream::connect_timeout(&self.addr, limit)
                .map(drop)
                .map_err(|e| e.to_string());
        }
        let (head, prepared) = self.request.prepare().map_err(|e| e.message)?;
        let Prepared::NoBody(call) = prepared else {
            return Err("the readiness request has a body".into());
        };
        let mut conn = Connection::connect(self.addr, limit, deadline).map_err(|e| e.message)?;
        send::send(&mut conn, &head, &[], deadline).map_err(|e| e.error.message)?;
        let answer = response::read_head(&mut conn.input, call);
        conn.close();
        let (head, _, _) = answer.map_err(|e| e.error.message)?;
        if self.healthy.contains(&head.status) {
            Ok(())
        } else {
            Err(format!("status {} is not in the healthy list", head.status))
        }
    }
}
