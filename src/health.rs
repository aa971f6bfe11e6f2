//! `qrlogin health`: the container health check, so the image needs no curl. A plain
//! HTTP/1.1 GET over loopback; only `http://` is probed (TLS ends at the load balancer).

use std::time::Duration;

use qrlogin_web::config::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one probe may take; a health check must answer before its runner gives up.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// Nothing listens there (this container runs the other service).
    NotListening,
    Status(u16),
}

/// With URLs, every one must answer 200. Without, the `/healthz` of both service ports on
/// loopback: at least one must answer 200 and none anything else, so one check serves an
/// image that runs either service or both.
pub async fn check(settings: &Settings, urls: &[String]) -> anyhow::Result<()> {
    let explicit = !urls.is_empty();
    let urls = match explicit {
        true => urls.to_vec(),
        false => [settings.desktop_port, settings.mobile_port]
            .iter()
            .map(|port| format!("http://127.0.0.1:{port}/healthz"))
            .collect(),
    };
    let mut healthy = 0;
    for url in &urls {
        match probe(url).await? {
            Probe::Status(200) => healthy += 1,
            Probe::Status(status) => anyhow::bail!("{url} answered {status}"),
            Probe::NotListening if explicit => anyhow::bail!("nothing listens at {url}"),
            Probe::NotListening => {}
        }
    }
    if healthy == 0 {
        anyhow::bail!("nothing listens at {}", urls.join(" or "));
    }
    Ok(())
}

pub async fn probe(url: &str) -> anyhow::Result<Probe> {
    let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("{url:?}: {e}"))?;
    if parsed.scheme() != "http" {
        anyhow::bail!("{url:?}: only http:// URLs can be probed");
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("{url:?} names no host"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let exchange = async {
        let mut stream = match TcpStream::connect((host, port)).await {
            Ok(stream) => stream,
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Ok(Probe::NotListening);
            }
            Err(error) => return Err(anyhow::anyhow!("{url}: {error}")),
        };
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0; 64];
        let read = stream.read(&mut head).await?;
        let status_line = String::from_utf8_lossy(&head[..read]);
        status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .map(Probe::Status)
            .ok_or_else(|| anyhow::anyhow!("{url} did not answer HTTP"))
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("{url} did not answer within {PROBE_TIMEOUT:?}"))?
}
