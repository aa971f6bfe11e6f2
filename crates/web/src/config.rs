//! Configuration: environment variables (optionally from `.env`), typed once at start. Every
//! malformed value is reported by name, all at once, before anything starts.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::client::TrustedProxies;

use qrlogin_auth::rate_limit::RateLimit;
use qrlogin_auth::store::redis::RedisTarget;
use secrecy::SecretString;
use url::Url;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Dev,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A public base URL as browsers see it, without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(Url);

impl PublicUrl {
    pub fn parse(input: &str) -> Result<Self, String> {
        let url = Url::parse(input.trim()).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err("must be an http:// or https:// URL with a host".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or fragment".into());
        }
        Ok(Self(url))
    }

    /// `https://example.com` or `http://localhost:98/base`: no trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// What a browser sends as `Origin` for pages under this URL.
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// `{base}{path}`; `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.as_str())
    }
}

/// MentraOS platform settings (see `shared/mentraos/platform.md`).
#[derive(Clone, Debug)]
pub struct MentraSettings {
    pub package_name: Option<String>,
    pub api_key: Option<SecretString>,
    pub cloud_url: Url,
    /// PEM of the RSA key that signs `aos_signed_user_token`.
    pub user_token_public_key: String,
    /// How long a call to the MentraOS cloud may take.
    pub timeout: Duration,
    /// Where "Sign in with Mentra" sends a phone browser (`{account_url}/auth?packagename=…`).
    pub account_url: Url,
    /// The hosts (`host` or `host:port`) a session webhook may send us to. The webhook is
    /// unsigned and the app WebSocket carries our API key, so nothing else is ever dialled.
    pub cloud_hosts: Vec<String>,
}

/// The MentraOS clouds known to exist (platform.md); `MENTRAOS_CLOUD_HOSTS` adds to them.
pub const MENTRAOS_CLOUD_HOSTS: [&str; 3] = [
    "api.mentra.glass",
    "devapi.mentra.glass",
    "api.mentraglass.cn",
];

/// What to do when the phone that claims a request is on another network than the screen
/// that created it (a sign of a relayed QR code); glasses have a setting of their own.
pub use qrlogin_auth::signin::policy::{GlassesNetworkMismatch, NetworkMismatch};

/// How the screen confirms an approval (`LOGIN_CONFIRMATION`), and whether the signed-in
/// screen must allow a device that opens its link (`LINK_CONFIRMATION`).
pub use qrlogin_auth::client::ConfirmationMode;
pub use qrlogin_auth::signin::policy::LinkConfirmation;
/// When an approval needs the owner's passkey (`PASSKEY_APPROVAL`), and for which domain.
pub use qrlogin_auth::signin::policy::{PasskeyApproval, PasskeyPolicy};

/// Rate limits, each `N/duration`: at most N, refilling evenly over the duration.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// Login requests created per client IP.
    pub create_per_ip: RateLimit,
    /// Login requests created per registered client (its server creates them for everyone).
    pub create_per_client: RateLimit,
    /// Scans and typed codes per signed-in user.
    pub scan_per_user: RateLimit,
    /// Scans and typed codes per client IP. Every attempt spends (so a success refunds
    /// nothing, and parallel guesses cannot outrun the count).
    pub scan_per_ip: RateLimit,
    /// Polls per login request.
    pub poll_per_request: RateLimit,
    /// Camera frames sent to be read, per signed-in user (each costs CPU).
    pub frames_per_user: RateLimit,
    /// Device links made per signed-in user.
    pub links_per_user: RateLimit,
    /// Device links opened per client IP.
    pub link_claims_per_ip: RateLimit,
    /// MentraOS session webhooks per IP (the cloud's few addresses carry every wearer's).
    pub webhooks_per_ip: RateLimit,
    /// Local-account sign-in attempts per client IP.
    pub login_per_ip: RateLimit,
    /// Local-account sign-in attempts per account.
    pub login_per_account: RateLimit,
    /// Local-account sign-in attempts per account from one network.
    pub login_per_account_network: RateLimit,
    /// PIN entries per login request (past the lock after five wrong ones, this spares the
    /// store a flood of refusals).
    pub pin_per_request: RateLimit,
    /// MentraOS webview entries per client IP (each can cost a call to the MentraOS cloud).
    pub webview_per_ip: RateLimit,
    /// Refused access tokens per client IP: past it, 429, so junk tokens can neither be
    /// tried at leisure nor flood the audit trail.
    pub rejected_token_per_ip: RateLimit,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub environment: Environment,
    pub bind_addr: IpAddr,
    /// Where `GET /metrics` is served (never on the service ports).
    pub metrics_addr: crate::metrics::MetricsAddr,
    pub desktop_port: u16,
    pub mobile_port: u16,
    pub desktop_public_url: PublicUrl,
    pub mobile_public_url: PublicUrl,
    /// The shared store: `REDIS_URL` or `REDIS_CLUSTER_URLS`; none means embedded SQLite.
    pub redis: Option<RedisTarget>,
    pub data_dir: PathBuf,
    pub qr_ttl: Duration,
    /// Kiosks: a dashboard without input this long signs out and shows a fresh QR.
    pub kiosk_idle_timeout: Option<Duration>,
    /// How long a "sign in on another device" link lives.
    pub link_ttl: Duration,
    /// Whether the signed-in screen must allow the device that opens its link.
    pub link_confirmation: LinkConfirmation,
    /// How long a client may take to send a request's line and headers.
    pub header_timeout: Duration,
    /// How long a whole request may take, body and answer included (WebSockets, once open,
    /// are not requests any more).
    pub request_timeout: Duration,
    /// How long an idle keep-alive connection is kept.
    pub keep_alive: Duration,
    /// On SIGTERM: how long to fail `/readyz` (and close sockets) before the listener stops.
    pub shutdown_drain: Duration,
    /// Then: how long in-flight requests get to finish.
    pub shutdown_timeout: Duration,
    pub session_ttl: Duration,
    pub access_token_ttl: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trust_proxy: TrustedProxies,
    pub local_accounts: bool,
    pub jwt_signing_keys: Option<SecretString>,
    /// The name the phone shows for what is being signed in.
    pub app_name: String,
    pub rate_limits: RateLimits,
    /// Caps on open WebSockets per login request, network, user and instance.
    pub sockets: crate::sockets::SocketCaps,
    /// What counts as one network (per-IP budgets, socket caps, "same network").
    pub networks: qrlogin_auth::network::NetworkGrouping,
    pub network_mismatch: NetworkMismatch,
    /// `GLASSES_NETWORK_MISMATCH`: `refuse` (the default) or `allow`.
    pub glasses_network_mismatch: GlassesNetworkMismatch,
    pub login_confirmation: ConfirmationMode,
    /// `PASSKEY_APPROVAL` and the relying party (`PASSKEY_RP_ID`) passkeys are made for.
    pub passkeys: PasskeyPolicy,
    pub mentra: MentraSettings,
    pub log_format: LogFormat,
    pub rust_log: String,
}

/// The MentraOS key that signs user tokens, shipped with the product.
pub const MENTRAOS_USER_TOKEN_PUBLIC_KEY: &str =
    include_str!("../../mentra/src/user-token-public-key.pem");

#[derive(Debug, thiserror::Error)]
#[error("the configuration is not valid:\n{}", .problems.join("\n"))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl Settings {
    /// From the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// From any source of variables: tests pass a map.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let problems = std::cell::RefCell::new(Vec::new());
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let parse = |name: &str, default: &str, check: &dyn Fn(&str) -> Result<(), String>| {
            let value = get(name).unwrap_or_else(|| default.to_owned());
            if let Err(why) = check(&value) {
                problems
                    .borrow_mut()
                    .push(format!("  {name}={value:?}: {why}"));
            }
            value
        };
        let environment = parse("QRLOGIN_ENV", "dev", &|v| match v {
            "dev" | "production" => Ok(()),
            _ => Err("expected `dev` or `production`".into()),
        });
        let environment = if environment == "production" {
            Environment::Production
        } else {
            Environment::Dev
        };
        let bind_addr = parse("BIND_ADDR", "0.0.0.0", &|v| {
            v.parse::<IpAddr>().map(|_| ()).map_err(|e| e.to_string())
        });
        let port_check = |v: &str| {
            v.parse::<u16>()
                .map(|_| ())
                .map_err(|_| "expected a port number 0-65535".to_owned())
        };
        let metrics_addr = parse("METRICS_ADDR", "loopback", &|v| {
            crate::metrics::MetricsAddr::parse(v).map(|_| ())
        });
        let desktop_port = parse("DESKTOP_PORT", "98", &port_check);
        let mobile_port = parse("MOBILE_PORT", "96", &port_check);
        let url_check = |v: &str| PublicUrl::parse(v).map(|_| ());
        let desktop_public_url = parse(
            "DESKTOP_PUBLIC_URL",
            &format!("http://localhost:{desktop_port}"),
            &url_check,
        );
        let mobile_public_url = parse(
            "MOBILE_PUBLIC_URL",
            &format!("http://localhost:{mobile_port}"),
            &url_check,
        );
        let redis_url = get("REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("unix://"))
        {
            problems
                .borrow_mut()
                .push("  REDIS_URL: expected redis://, rediss:// or unix:// (value hidden)".into());
        }
        let redis_cluster_urls: Option<Vec<String>> = get("REDIS_CLUSTER_URLS").map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(str::to_owned)
                .collect()
        });
        if let Some(urls) = &redis_cluster_urls
            && (urls.is_empty()
                || !urls
                    .iter()
                    .all(|url| url.starts_with("redis://") || url.starts_with("rediss://")))
        {
            problems.borrow_mut().push(
                "  REDIS_CLUSTER_URLS: expected comma-separated redis:// or rediss:// URLs of cluster nodes (value hidden)"
                    .into(),
            );
        }
        let redis_ca_certificate = get("REDIS_CA_CERT").and_then(|value| {
            let pem = match value.contains("BEGIN CERTIFICATE") {
                true => Ok(value.replace("\\n", "\n")),
                false => std::fs::read_to_string(&value).map_err(|e| e.to_string()),
            };
            match pem {
                Ok(pem) if pem.contains("BEGIN CERTIFICATE") => Some(pem.into_bytes()),
                Ok(_) => {
                    problems
                        .borrow_mut()
                        .push("  REDIS_CA_CERT: the file holds no PEM certificate".into());
                    None
                }
                Err(e) => {
                    problems.borrow_mut().push(format!(
                        "  REDIS_CA_CERT: neither a PEM certificate nor a readable file ({e})"
                    ));
                    None
                }
            }
        });
        if redis_url.is_some() && redis_cluster_urls.is_some() {
            problems.borrow_mut().push(
                "  REDIS_URL, REDIS_CLUSTER_URLS: set one of them: REDIS_URL for one server, REDIS_CLUSTER_URLS for a Redis Cluster"
                    .into(),
            );
        }
        let data_dir = parse("DATA_DIR", "./data", &|_| Ok(()));
        let ttl_check = |v: &str| {
            parse_duration(v).and_then(|d| {
                if d.is_zero() {
                    Err("must be more than zero".into())
                } else {
                    Ok(())
                }
            })
        };
        let qr_ttl = parse("QR_TTL", "60s", &ttl_check);
        let link_ttl = parse("LINK_TTL", "5m", &ttl_check);
        let link_confirmation = parse("LINK_CONFIRMATION", "confirm", &|v| match v {
            "confirm" | "none" => Ok(()),
            _ => Err("expected `confirm` or `none`".into()),
        });
        let header_timeout = parse("HEADER_TIMEOUT", "5s", &ttl_check);
        let request_timeout = parse("REQUEST_TIMEOUT", "30s", &ttl_check);
        let keep_alive = parse("KEEP_ALIVE", "15s", &ttl_check);
        let shutdown_drain = parse("SHUTDOWN_DRAIN", "5s", &ttl_check);
        let shutdown_timeout = parse("SHUTDOWN_TIMEOUT", "10s", &ttl_check);
        let session_ttl = parse("SESSION_TTL", "1h", &ttl_check);
        let access_token_ttl = parse("ACCESS_TOKEN_TTL", "30m", &ttl_check);
        let trust_proxy = parse("TRUST_PROXY", "", &|v| TrustedProxies::parse(v).map(|_| ()));
        let local_default = if environment == Environment::Dev {
            "on"
        } else {
            "off"
        };
        let local_accounts = parse("LOCAL_ACCOUNTS", local_default, &|v| {
            parse_switch(v).map(|_| ())
        });
        let app_name = parse("APP_NAME", "qrlogin", &|v| {
            if v.chars().count() > 64 {
                Err("at most 64 characters".into())
            } else {
                Ok(())
            }
        });
        let limit_check = |v: &str| parse_rate_limit(v).map(|_| ());
        let limit = |name: &str, default: &str| {
            parse_rate_limit(&parse(name, default, &limit_check)).unwrap_or(RateLimit {
                count: 1,
                per_ms: 1000,
            })
        };
        let rate_limits = RateLimits {
            create_per_ip: limit("RATE_LIMIT_CREATE_PER_IP", "60/1m"),
            create_per_client: limit("RATE_LIMIT_CREATE_PER_CLIENT", "600/1m"),
            scan_per_user: limit("RATE_LIMIT_SCAN_PER_USER", "20/1m"),
            scan_per_ip: limit("RATE_LIMIT_SCAN_PER_IP", "60/10m"),
            poll_per_request: limit("RATE_LIMIT_POLL_PER_REQUEST", "120/1m"),
            login_per_ip: limit("RATE_LIMIT_LOGIN_PER_IP", "20/10m"),
            login_per_account: limit("RATE_LIMIT_LOGIN_PER_ACCOUNT", "10/10m"),
            login_per_account_network: limit("RATE_LIMIT_LOGIN_PER_ACCOUNT_IP", "5/10m"),
            pin_per_request: limit("RATE_LIMIT_PIN_PER_REQUEST", "30/1m"),
            webview_per_ip: limit("RATE_LIMIT_WEBVIEW_PER_IP", "60/1m"),
            frames_per_user: limit("RATE_LIMIT_FRAMES_PER_USER", "240/1m"),
            links_per_user: limit("RATE_LIMIT_LINKS_PER_USER", "10/10m"),
            link_claims_per_ip: limit("RATE_LIMIT_LINK_CLAIMS_PER_IP", "30/10m"),
            webhooks_per_ip: limit("RATE_LIMIT_WEBHOOKS_PER_IP", "600/1m"),
            rejected_token_per_ip: limit("RATE_LIMIT_REJECTED_TOKEN_PER_IP", "30/1m"),
        };
        let count = |name: &str, default: &str, range: std::ops::RangeInclusive<u32>| {
            let check = |v: &str| match v.parse::<u32>() {
                Ok(n) if range.contains(&n) => Ok(()),
                _ => Err(format!(
                    "expected a whole number from {} to {}",
                    range.start(),
                    range.end()
                )),
            };
            parse(name, default, &check)
                .parse::<u32>()
                .unwrap_or(*range.start())
        };
        let sockets = crate::sockets::SocketCaps {
            per_request: count("WEBSOCKETS_PER_REQUEST", "2", 1..=100),
            per_network: count("WEBSOCKETS_PER_IP", "100", 1..=1_000_000),
            per_user: count("WEBSOCKETS_PER_USER", "20", 1..=1_000_000),
            instance: get("MAX_WEBSOCKETS").map(|_| count("MAX_WEBSOCKETS", "1", 1..=10_000_000)),
        };
        let networks = qrlogin_auth::network::NetworkGrouping {
            ipv4_prefix: u8::try_from(count("NETWORK_PREFIX_IPV4", "32", 8..=32)).unwrap_or(32),
            ipv6_prefix: u8::try_from(count("NETWORK_PREFIX_IPV6", "64", 16..=128)).unwrap_or(64),
        };
        let login_confirmation = parse("LOGIN_CONFIRMATION", "tap", &|v| match v {
            "tap" | "pin" => Ok(()),
            _ => Err("expected `tap` or `pin`".into()),
        });
        let network_mismatch = parse("NETWORK_MISMATCH", "warn", &|v| match v {
            "warn" | "deny" => Ok(()),
            _ => Err("expected `warn` or `deny`".into()),
        });
        let glasses_network_mismatch = parse("GLASSES_NETWORK_MISMATCH", "refuse", &|v| match v {
            "refuse" | "allow" => Ok(()),
            _ => Err("expected `refuse` or `allow`".into()),
        });
        let cloud_url = parse("MENTRAOS_CLOUD_URL", "https://api.mentra.glass", &|v| {
            Url::parse(v)
                .map(|_| ())
                .map_err(|e| format!("not a URL ({e})"))
        });
        let mentra_timeout = parse("MENTRAOS_TIMEOUT", "10s", &ttl_check);
        let account_url = parse(
            "MENTRAOS_ACCOUNT_URL",
            "https://account.mentra.glass",
            &|v| {
                Url::parse(v)
                    .map(|_| ())
                    .map_err(|e| format!("not a URL ({e})"))
            },
        );
        let kiosk_idle_timeout = get("KIOSK_IDLE_TIMEOUT").filter(|v| !v.trim().is_empty());
        if let Some(value) = &kiosk_idle_timeout
            && let Err(why) = ttl_check(value)
        {
            problems
                .borrow_mut()
                .push(format!("  KIOSK_IDLE_TIMEOUT: {why}"));
        }
        let extra_cloud_hosts = parse("MENTRAOS_CLOUD_HOSTS", "", &|v| match v
            .split(',')
            .map(str::trim)
            .filter(|host| !host.is_empty())
            .find(|host| !is_host_and_port(host))
        {
            Some(bad) => Err(format!(
                "`{bad}` is not a host name or host:port (no scheme, no path)"
            )),
            None => Ok(()),
        });
        let user_token_public_key = match get("MENTRAOS_USER_TOKEN_PUBLIC_KEY") {
            None => MENTRAOS_USER_TOKEN_PUBLIC_KEY.to_owned(),
            Some(v) if v.contains("BEGIN PUBLIC KEY") => v.replace("\\n", "\n"),
            Some(path) => std::fs::read_to_string(&path).unwrap_or_else(|e| {
                problems.borrow_mut().push(format!(
                    "  MENTRAOS_USER_TOKEN_PUBLIC_KEY: neither a PEM nor a readable file ({e})"
                ));
                String::new()
            }),
        };
        let jwt_signing_keys = match get("JWT_SIGNING_KEYS") {
            None => None,
            Some(v) if v.contains("BEGIN") => Some(v.replace("\\n", "\n")),
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    problems.borrow_mut().push(format!(
                        "  JWT_SIGNING_KEYS: neither PEM text nor a readable file ({e})"
                    ));
                    None
                }
            },
        };
        let log_default = if environment == Environment::Production {
            "json"
        } else {
            "pretty"
        };
        let log_format = parse("LOG_FORMAT", log_default, &|v| match v {
            "pretty" | "json" => Ok(()),
            _ => Err("expected `pretty` or `json`".into()),
        });
        let rust_log = get("RUST_LOG").unwrap_or_else(|| "info".into());
        let passkey_approval = parse("PASSKEY_APPROVAL", "when-registered", &|v| {
            parse_passkey_approval(v).map(|_| ())
        });
        let passkeys = passkey_policy(
            parse_passkey_approval(&passkey_approval).unwrap_or(PasskeyApproval::WhenRegistered),
            get("PASSKEY_RP_ID").as_deref(),
            &app_name,
            [&mobile_public_url, &desktop_public_url]
                .map(|url| PublicUrl::parse(url).unwrap_or_else(|_| fallback_url()).0),
        )
        .unwrap_or_else(|problem| {
            problems.borrow_mut().push(problem);
            PasskeyPolicy {
                approval: PasskeyApproval::Off,
                relying_party: None,
            }
        });

        let settings = Settings {
            environment,
            bind_addr: bind_addr.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            metrics_addr: crate::metrics::MetricsAddr::parse(&metrics_addr)
                .unwrap_or(crate::metrics::MetricsAddr::Loopback),
            desktop_port: desktop_port.parse().unwrap_or(98),
            mobile_port: mobile_port.parse().unwrap_or(96),
            desktop_public_url: PublicUrl::parse(&desktop_public_url)
                .unwrap_or_else(|_| fallback_url()),
            mobile_public_url: PublicUrl::parse(&mobile_public_url)
                .unwrap_or_else(|_| fallback_url()),
            redis: match (redis_url, redis_cluster_urls) {
                (_, Some(urls)) => Some(RedisTarget::cluster(
                    urls.into_iter().map(Into::into).collect(),
                )),
                (Some(url), None) => Some(RedisTarget::standalone(url.into())),
                (None, None) => None,
            }
            .map(|target| match redis_ca_certificate {
                Some(pem) => target.with_ca_certificate(pem),
                None => target,
            }),
            data_dir: data_dir.into(),
            qr_ttl: parse_duration(&qr_ttl).unwrap_or_default(),
            kiosk_idle_timeout: kiosk_idle_timeout
                .as_deref()
                .and_then(|v| parse_duration(v).ok()),
            link_ttl: parse_duration(&link_ttl).unwrap_or(Duration::from_secs(300)),
            link_confirmation: match link_confirmation.as_str() {
                "none" => LinkConfirmation::None,
                _ => LinkConfirmation::Confirm,
            },
            header_timeout: parse_duration(&header_timeout).unwrap_or(Duration::from_secs(5)),
            request_timeout: parse_duration(&request_timeout).unwrap_or(Duration::from_secs(30)),
            keep_alive: parse_duration(&keep_alive).unwrap_or(Duration::from_secs(15)),
            shutdown_drain: parse_duration(&shutdown_drain).unwrap_or(Duration::from_secs(5)),
            shutdown_timeout: parse_duration(&shutdown_timeout).unwrap_or(Duration::from_secs(10)),
            session_ttl: parse_duration(&session_ttl).unwrap_or_default(),
            access_token_ttl: parse_duration(&access_token_ttl).unwrap_or_default(),
            trust_proxy: TrustedProxies::parse(&trust_proxy).unwrap_or_default(),
            local_accounts: parse_switch(&local_accounts).unwrap_or(false),
            jwt_signing_keys: jwt_signing_keys.map(Into::into),
            app_name,
            rate_limits,
            sockets,
            networks,
            network_mismatch: if network_mismatch == "deny" {
                NetworkMismatch::Deny
            } else {
                NetworkMismatch::Warn
            },
            glasses_network_mismatch: if glasses_network_mismatch == "allow" {
                GlassesNetworkMismatch::Allow
            } else {
                GlassesNetworkMismatch::Refuse
            },
            login_confirmation: ConfirmationMode::parse(&login_confirmation)
                .unwrap_or(ConfirmationMode::Tap),
            mentra: MentraSettings {
                package_name: get("PACKAGE_NAME"),
                api_key: get("MENTRAOS_API_KEY").map(Into::into),
                cloud_url: Url::parse(&cloud_url).unwrap_or_else(|_| fallback_url().0),
                user_token_public_key,
                timeout: parse_duration(&mentra_timeout).unwrap_or(Duration::from_secs(10)),
                account_url: Url::parse(&account_url).unwrap_or_else(|_| fallback_url().0),
                cloud_hosts: MENTRAOS_CLOUD_HOSTS
                    .iter()
                    .map(|host| (*host).to_owned())
                    .chain(
                        extra_cloud_hosts
                            .split(',')
                            .map(|host| host.trim().to_ascii_lowercase())
                            .filter(|host| !host.is_empty()),
                    )
                    .collect(),
            },
            passkeys,
            log_format: if log_format == "json" {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            },
            rust_log,
        };
        if environment == Environment::Production {
            if settings.jwt_signing_keys.is_none() {
                problems.borrow_mut().push("  JWT_SIGNING_KEYS: required in production (Ed25519 PKCS#8 PEM, newest first, with an RSA key for OpenID Connect apps, or a path to it)".into());
            }
            for (name, url) in [
                ("DESKTOP_PUBLIC_URL", &settings.desktop_public_url),
                ("MOBILE_PUBLIC_URL", &settings.mobile_public_url),
            ] {
                if !url.is_https() {
                    problems
                        .borrow_mut()
                        .push(format!("  {name}: must be https:// in production"));
                }
            }
        }
        let problems = problems.into_inner();
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// What the split services demand: the shared store is Redis.
    pub fn require_redis(&self, service: &str) -> Result<&RedisTarget, ConfigError> {
        self.redis.as_ref().ok_or_else(|| ConfigError {
            problems: vec![format!(
                "  REDIS_URL: {service} runs as its own process and shares state with the other service only through Redis; set REDIS_URL (e.g. redis://127.0.0.1:6379) or REDIS_CLUSTER_URLS, or run both services in one process with `qrlogin` (embedded store)"
            )],
        })
    }

    /// The sign-in rules these settings choose, for the use-case layer.
    pub fn policy(&self) -> qrlogin_auth::signin::Policy {
        qrlogin_auth::signin::Policy {
            app_name: self.app_name.clone(),
            mobile_public_url: self.mobile_public_url.as_str().to_owned(),
            desktop_public_url: self.desktop_public_url.as_str().to_owned(),
            network_mismatch: self.network_mismatch,
            glasses_network_mismatch: self.glasses_network_mismatch,
            confirmation: self.login_confirmation,
            lifetimes: self.lifetimes(),
            link_confirmation: self.link_confirmation,
            link_ttl_ms: i64::try_from(self.link_ttl.as_millis()).unwrap_or(i64::MAX),
            networks: self.networks,
            passkeys: self.passkeys.clone(),
        }
    }

    pub fn lifetimes(&self) -> qrlogin_auth::flows::Lifetimes {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        qrlogin_auth::flows::Lifetimes {
            qr_ttl_ms: ms(self.qr_ttl),
            session_ttl_ms: ms(self.session_ttl),
            access_token_ttl_ms: ms(self.access_token_ttl),
        }
    }
}

fn parse_passkey_approval(value: &str) -> Result<PasskeyApproval, String> {
    match value {
        "off" => Ok(PasskeyApproval::Off),
        "when-registered" => Ok(PasskeyApproval::WhenRegistered),
        "required" => Ok(PasskeyApproval::Required),
        _ => Err("expected `off`, `when-registered` or `required`".into()),
    }
}

/// The passkey rules: the relying party is `rp_id` (by default the phone pages' host). Phone
/// pages on an IP address cannot use passkeys at all (WebAuthn refuses them): that is only a
/// problem where passkeys were asked for by name (`PASSKEY_RP_ID`, or `required`).
fn passkey_policy(
    approval: PasskeyApproval,
    rp_id: Option<&str>,
    app_name: &str,
    [mobile, desktop]: [Url; 2],
) -> Result<PasskeyPolicy, String> {
    use qrlogin_auth::signin::passkeys::RelyingParty;
    let asked_for = rp_id.is_some() || approval == PasskeyApproval::Required;
    let relying_party = (rp_id.or(mobile.domain()))
        .map(|rp_id| RelyingParty::new(rp_id, app_name, &mobile, &desktop));
    let relying_party = match relying_party {
        Some(Ok(party)) => Some(party),
        Some(Err(why)) => return Err(format!("  PASSKEY_RP_ID: {why}")),
        None if asked_for => {
            return Err(format!(
                "  PASSKEY_APPROVAL=required: passkeys need the phone pages on a host name, and MOBILE_PUBLIC_URL is {mobile}"
            ));
        }
        None => None,
    };
    Ok(PasskeyPolicy {
        approval,
        relying_party,
    })
}

fn fallback_url() -> PublicUrl {
    PublicUrl(Url::parse("http://localhost").unwrap_or_else(|_| unreachable!("a constant URL")))
}

/// `60`, `60s`, `5m`, `1h 30m`: plain seconds or humantime.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    if let Ok(seconds) = input.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(input)
        .map_err(|e| format!("expected seconds or a duration like 60s, 5m, 1h ({e})"))
}

/// `10/1m`: ten per minute.
pub fn parse_rate_limit(input: &str) -> Result<RateLimit, String> {
    let (count, per) = input
        .split_once('/')
        .ok_or("expected N/duration, like 10/1m")?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| "expected a whole number before the /".to_owned())?;
    let per = parse_duration(per.trim())?;
    if count == 0 || per.is_zero() {
        return Err("both the number and the duration must be more than zero".into());
    }
    Ok(RateLimit {
        count,
        per_ms: i64::try_from(per.as_millis()).unwrap_or(i64::MAX),
    })
}

fn parse_switch(input: &str) -> Result<bool, String> {
    match input.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err("expected `on` or `off`".into()),
    }
}

/// `api.mentra.glass` or `127.0.0.1:7000`: what a URL's authority may be, nothing more.
fn is_host_and_port(text: &str) -> bool {
    Url::parse(&format!("wss://{text}")).is_ok_and(|url| {
        url.host_str().is_some()
            && url.path() == "/"
            && url.username().is_empty()
            && url.query().is_none()
            && !text.contains('/')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Settings::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn no_configuration_is_a_working_dev_setup() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.desktop_port, s.mobile_port), (98, 96));
        assert_eq!(s.mobile_public_url.as_str(), "http://localhost:96");
        assert_eq!(s.qr_ttl, Duration::from_secs(60));
        assert_eq!(s.session_ttl, Duration::from_secs(3600));
        assert!(s.local_accounts && s.redis.is_none());
        // A bare `cargo run` binds the services to every address, but never the metrics.
        assert_eq!(
            s.metrics_addr
                .resolve(crate::metrics::MetricsAddr::DESKTOP_PORT),
            Some("127.0.0.1:9098".parse().unwrap())
        );
        assert!(
            s.mentra
                .user_token_public_key
                .contains("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0Yt2RtNOdeKQxWMY0c84")
        );
    }

    #[test]
    fn every_bad_value_is_named_at_once() {
        let err = settings(&[
            ("DESKTOP_PORT", "ninety"),
            ("QR_TTL", "soon"),
            ("METRICS_ADDR", "0.0.0.0"),
            ("MOBILE_PUBLIC_URL", "ftp://x"),
        ])
        .unwrap_err();
        let text = err.to_string();
        for name in [
            "DESKTOP_PORT",
            "QR_TTL",
            "METRICS_ADDR",
            "MOBILE_PUBLIC_URL",
        ] {
            assert!(text.contains(name), "{text}");
        }
    }

    #[test]
    fn mentraos_cloud_hosts_add_to_the_known_ones_and_take_hosts_only() {
        let s = settings(&[("MENTRAOS_CLOUD_HOSTS", "127.0.0.1:7000, cloud.example")]).unwrap();
        assert_eq!(
            s.mentra.cloud_hosts,
            [
                "api.mentra.glass",
                "devapi.mentra.glass",
                "api.mentraglass.cn",
                "127.0.0.1:7000",
                "cloud.example"
            ]
        );
        for bad in [
            "https://cloud.example",
            "cloud.example/app-ws",
            "user@cloud.example",
        ] {
            let err = settings(&[("MENTRAOS_CLOUD_HOSTS", bad)]).unwrap_err();
            assert!(err.to_string().contains("MENTRAOS_CLOUD_HOSTS"), "{bad}");
        }
    }

    #[test]
    fn durations_accept_seconds_and_humantime() {
        assert_eq!(parse_duration("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn rate_limits_read_as_count_per_duration() {
        assert_eq!(
            parse_rate_limit("10/1m"),
            Ok(RateLimit {
                count: 10,
                per_ms: 60_000
            })
        );
        assert_eq!(
            parse_rate_limit("5 / 30s"),
            Ok(RateLimit {
                count: 5,
                per_ms: 30_000
            })
        );
        for bad in ["10", "0/1m", "10/0s", "x/1m", "10/soon"] {
            assert!(parse_rate_limit(bad).is_err(), "{bad}");
        }
        let text = settings(&[("RATE_LIMIT_CREATE_PER_IP", "lots")])
            .unwrap_err()
            .to_string();
        assert!(text.contains("RATE_LIMIT_CREATE_PER_IP"), "{text}");
    }

    #[test]
    fn production_demands_keys_and_https() {
        let text = settings(&[("QRLOGIN_ENV", "production")])
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("JWT_SIGNING_KEYS") && text.contains("DESKTOP_PUBLIC_URL"),
            "{text}"
        );
    }

    #[test]
    fn the_split_services_refuse_to_run_without_redis_and_say_why() {
        let text = settings(&[])
            .unwrap()
            .require_redis("qrlogin-desktop")
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("REDIS_URL") && text.contains("qrlogin-desktop"),
            "{text}"
        );
        assert!(
            settings(&[("REDIS_URL", "redis://127.0.0.1:1/")])
                .unwrap()
                .require_redis("x")
                .is_ok()
        );
    }

    #[test]
    fn a_cluster_is_named_by_its_nodes_and_excludes_a_single_server() {
        let s = settings(&[(
            "REDIS_CLUSTER_URLS",
            "redis://10.0.0.1:6379, redis://10.0.0.2:6379,",
        )])
        .unwrap();
        assert!(s.redis.as_ref().is_some_and(RedisTarget::is_cluster));
        assert!(s.require_redis("x").is_ok());
        for bad in [
            vec![("REDIS_CLUSTER_URLS", "http://10.0.0.1")],
            vec![("REDIS_CLUSTER_URLS", " , ")],
            vec![
                ("REDIS_CLUSTER_URLS", "redis://10.0.0.1:6379"),
                ("REDIS_URL", "redis://10.0.0.9:6379"),
            ],
        ] {
            let text = settings(&bad).unwrap_err().to_string();
            assert!(text.contains("REDIS_CLUSTER_URLS"), "{text}");
        }
    }

    #[test]
    fn a_redis_url_is_never_echoed() {
        let text = settings(&[("REDIS_URL", "http://user:hunter2@host")])
            .unwrap_err()
            .to_string();
        assert!(!text.contains("hunter2"), "{text}");
    }
}
