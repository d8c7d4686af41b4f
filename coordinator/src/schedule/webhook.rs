//! The webhook: a small JSON summary of each concluded run, POSTed to the
//! schedule's URL, signed, to a public address only.
//!
//! A webhook is a request the coordinator makes on a user's behalf, so it
//! is the one way its network position could be borrowed (SSRF). Hence:
//! no redirects, a 5 s timeout, and every address the host resolves to
//! must be public — loopback, link-local, private and other special
//! ranges are refused unless the host is on the operator's allow-list
//! (`serve --webhook-allow-host`). The addresses are checked in the
//! resolver the request then connects with, so a second DNS answer cannot
//! swap them. The body is signed: `X-Signature: sha256=<hex HMAC-SHA256 of
//! the body>` with the schedule's secret. Three attempts with backoff;
//! what happened is recorded in the run's detail, without the URL.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::schedules::Schedules;
use super::{at_ms, Run, Schedule};

/// Attempts per notification, and the wait before the second (doubled
/// before the third).
pub const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The header carrying the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Signature";

impl Schedules {
    /// POSTs the run's summary to the schedule's webhook and records the
    /// delivery (or why it failed) in the run's detail.
    pub(super) async fn notify(&self, s: &Schedule, run: &Run) {
        let Some(url) = s.webhook.clone() else {
            return;
        };
        let body = summary(run).to_string();
        let secret = s.webhook_secret.clone().unwrap_or_default();
        let allow = self.config.webhook_allow.clone();
        let outcome = tokio::task::spawn_blocking(move || deliver(&url, &body, &secret, &allow))
            .await
            .unwrap_or_else(|e| Delivery {
                attempts: 0,
                error: Some(format!("the delivery task failed: {e}")),
            });
        let note = outcome.note();
        match &outcome.error {
            Some(e) => {
                tracing::warn!(schedule = %s.name, run = run.seq, error = %e, "webhook failed")
            }
            None => tracing::info!(schedule = %s.name, run = run.seq, "webhook delivered"),
        }
        let mut run = run.clone();
        run.detail = format!("{} {note}", run.detail).trim().to_string();
        if let Err(e) = self.store().put_run(&run) {
            tracing::warn!(error = %e, "cannot record the webhook delivery");
        }
    }
}

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub attempts: u32,
    /// The last failure, if it never got through (never the URL).
    pub error: Option<String>,
}

impl Delivery {
    fn note(&self) -> String {
        match &self.error {
            None => format!(
                "webhook delivered (attempt {} of {ATTEMPTS}).",
                self.attempts
            ),
            Some(e) => format!("webhook failed after {} attempts: {e}.", self.attempts),
        }
    }
}

/// Why a webhook URL may not be called; checked when a schedule is added
/// (for the URL's form) and at every delivery (for its addresses).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("not an http:// or https:// URL with a host")]
    BadUrl,
    #[error("{host} resolves to {addr}, a loopback, link-local or private address; allow the host with `serve --webhook-allow-host {host}` if it is meant")]
    NotPublic { host: String, addr: IpAddr },
    #[error("{host} does not resolve")]
    NoAddress { host: String },
}

/// The URL's host, if it is an http(s) URL.
pub fn host_of(url: &str) -> Result<String, WebhookError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(WebhookError::BadUrl)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        // user:password@host hides the real host from a reader.
        return Err(WebhookError::BadUrl);
    }
    let host = host_of_netloc(authority);
    if host.is_empty() {
        return Err(WebhookError::BadUrl);
    }
    Ok(host.to_ascii_lowercase())
}

/// The host of `host:port` or `[v6]:port` (the port optional).
fn host_of_netloc(netloc: &str) -> &str {
    match netloc.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => netloc.rsplit_once(':').map_or(netloc, |(h, _)| h),
    }
}

/// The URL as shown to people: scheme and host, the path (which often
/// holds a token, as Slack's do) hidden.
pub fn redacted(url: &str) -> String {
    match host_of(url) {
        Ok(host) => {
            let scheme = if url.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}/…")
        }
        Err(_) => "(invalid URL)".into(),
    }
}

/// Whether `ip` is an address a webhook may reach without an allow-list:
/// not loopback, link-local, private, shared (CGNAT), unspecified,
/// broadcast, multicast or documentation space.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// The addresses of `netloc` (`host:port`), all of them public unless the
/// host is allowed.
fn checked_addresses(netloc: &str, allow: &[String]) -> std::io::Result<Vec<SocketAddr>> {
    let host = host_of_netloc(netloc).to_ascii_lowercase();
    let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
    let refuse = |e: WebhookError| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e);
    if addrs.is_empty() {
        return Err(refuse(WebhookError::NoAddress { host }));
    }
    if !allow.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(refuse(WebhookError::NotPublic {
                host,
                addr: bad.ip(),
            }));
        }
    }
    Ok(addrs)
}

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Sends `body` to `url`, up to [`ATTEMPTS`] times. Blocking.
pub fn deliver(url: &str, body: &str, secret: &str, allow: &[String]) -> Delivery {
    let allow: Arc<Vec<String>> = Arc::new(allow.to_vec());
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(TIMEOUT)
        .resolver(move |netloc: &str| checked_addresses(netloc, &allow))
        .build();
    let sig = signature(secret, body);
    let mut backoff = FIRST_BACKOFF;
    let mut error = None;
    for attempt in 1..=ATTEMPTS {
        let sent = agent
            .post(url)
            .set("content-type", "application/json")
            .set(SIGNATURE_HEADER, &sig)
            .send_string(body);
        let (failure, refused) = match sent {
            Ok(r) if (200..300).contains(&r.status()) => {
                return Delivery {
                    attempts: attempt,
                    error: None,
                }
            }
            // With redirects off, a 3xx arrives here: never followed.
            Ok(r) => (
                format!("HTTP {} (redirects are not followed)", r.status()),
                false,
            ),
            Err(ureq::Error::Status(code, _)) => (format!("HTTP {code}"), false),
            Err(ureq::Error::Transport(t)) => describe(&t),
        };
        error = Some(failure);
        if refused {
            // An address the operator has not allowed stays refused.
            return Delivery {
                attempts: attempt,
                error,
            };
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(backoff);
            backoff *= 2;
        }
    }
    Delivery {
        attempts: ATTEMPTS,
        error,
    }
}

/// A transport failure, without the URL ureq puts in its own text, and
/// whether it is the address check's refusal (final: not retried).
fn describe(t: &ureq::Transport) -> (String, bool) {
    let Some(source) = std::error::Error::source(t) else {
        return (t.kind().to_string(), false);
    };
    let refusal = source
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|e| e.downcast_ref::<WebhookError>());
    match refusal {
        Some(w) => (format!("refused: {w}"), true),
        None => (format!("{}: {source}", t.kind()), false),
    }
}

/// The JSON a webhook receives.
pub fn summary(run: &Run) -> serde_json::Value {
    serde_json::json!({
        "schedule": run.schedule,
        "run": run.seq,
        "sweep": run.sweep,
        "outcome": run.outcome.name(),
        "trigger": run.trigger.text(),
        "due": at_ms(run.due_ms).to_rfc3339(),
        "finished": run.finished_ms.map(|t| at_ms(t).to_rfc3339()),
        "baseline": run.baseline,
        "regressions": run.flagged,
        "detail": run.detail,
        "report": run.report_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn hosts_are_read_from_urls_and_tricks_refused() {
        assert_eq!(
            host_of("https://Hooks.Example.com/x?y").unwrap(),
            "hooks.example.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/hook").unwrap(), "127.0.0.1");
        assert_eq!(host_of("http://[::1]:80/").unwrap(), "::1");
        assert_eq!(host_of("http://a@evil/").unwrap_err(), WebhookError::BadUrl);
        assert_eq!(
            host_of("file:///etc/passwd").unwrap_err(),
            WebhookError::BadUrl
        );
        assert_eq!(
            redacted("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
    }

    #[test]
    fn loopback_is_refused_unless_allowed() {
        let err = checked_addresses("127.0.0.1:9", &[]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(checked_addresses("127.0.0.1:9", &["127.0.0.1".into()]).is_ok());
    }

    #[test]
    fn the_signature_is_the_hmac_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
