//! The `qrlogin` command line.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use qrlogin_auth::User;
use qrlogin_auth::account::{MIN_PASSWORD_LENGTH, Username};
use qrlogin_auth::audit::{AuditEvent, AuditQuery, AuditRecord};
use qrlogin_auth::clock::{Clock, SystemClock};
use qrlogin_auth::flows;
use qrlogin_auth::store::Store;
use qrlogin_web::config::Settings;
use qrlogin_web::state::{REDIS_PREFIX, open_store};
use secrecy::{ExposeSecret, SecretString};

#[derive(Parser)]
#[command(
    name = "qrlogin",
    version,
    about = "Scan-to-sign-in: run both services, or manage local accounts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the desktop (:98) and mobile (:96) services in this process (the default).
    Serve,
    /// Run only the desktop service, as one of many replicas sharing Redis (the same as
    /// `qrlogin-desktop`).
    Desktop,
    /// Run only the mobile service, as one of many replicas sharing Redis (the same as
    /// `qrlogin-mobile`).
    Mobile,
    /// Print every QR code found in each image (JPEG, PNG or WebP), one per line after the
    /// file's name; exit non-zero when an image holds none. To see why a frame failed.
    Decode {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Exit 0 when this machine's services answer `/healthz` (a container health check).
    /// Without URLs: both service ports on loopback, whichever listen.
    Health { urls: Vec<String> },
    /// Manage local accounts (for people without a MentraOS account).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage registered clients: third-party apps that create sign-ins with an API key.
    Clients {
        #[command(subcommand)]
        command: crate::clients::ClientsCommand,
    },
    /// Read the audit trail: every sign-in step, refusal, logout and rejected token.
    Audit {
        /// Only this user's records (`local:erin`, `mentra:someone@example.com`).
        #[arg(long)]
        user: Option<String>,
        /// Only records from this long ago on (`90s`, `15m`, `1h`, `7d`).
        #[arg(long, default_value = "1h", value_parser = parse_age)]
        since: std::time::Duration,
        /// At most this many records (the newest).
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Keep printing new records as they are written, until interrupted.
        #[arg(long)]
        follow: bool,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add an account. The password is read from a prompt, or from standard input when it is
    /// not a terminal; never from the command line.
    Add {
        username: String,
        /// The name pages show (defaults to the username).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Disable an account: it can no longer sign in, approve or redeem, and every session
    /// and token it has stops at once.
    Disable { username: String },
    /// Enable a disabled account again.
    Enable { username: String },
    /// List the accounts (never their passwords).
    List,
    /// Set a new password (read from a prompt, or standard input when it is not a terminal);
    /// every session and token of the account ends.
    Passwd { username: String },
    /// Remove an account; its sessions and tokens end at once.
    Remove { username: String },
    /// Remove every passkey of an account and end all its sessions: for a lost phone, or an
    /// owner locked out by `PASSKEY_APPROVAL=required`. NAME is a local username, or a
    /// MentraOS account as `mentra:EMAIL`. The owner signs in again on the phone they have
    /// and adds a passkey there.
    ResetPasskeys {
        #[arg(value_name = "NAME")]
        account: String,
    },
}

fn parse_age(input: &str) -> Result<std::time::Duration, String> {
    qrlogin_web::config::parse_duration(input)
}

fn parse_username(input: &str) -> anyhow::Result<Username> {
    Username::parse(input).map_err(|why| anyhow::anyhow!("invalid username: {why}"))
}

/// Records what the operator did from the command line.
async fn audit_cli(
    store: &dyn Store,
    event: AuditEvent,
    username: &Username,
) -> anyhow::Result<()> {
    let mut record = AuditRecord::new(event, SystemClock.now());
    record.user = Some(User::local(username.as_str(), username.as_str()).id);
    record.detail = Some("command line".into());
    Ok(store.append_audit(&[record]).await?)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Reading images needs no settings (and no store).
    if let Some(Command::Decode { files }) = &cli.command {
        return decode(files);
    }
    let settings = Settings::from_env()?;
    let open = async || open_store(&settings, Arc::new(SystemClock), REDIS_PREFIX).await;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve(settings).await,
        Command::Desktop => qrlogin_desktop::serve(settings).await,
        Command::Mobile => qrlogin_mobile::serve(settings).await,
        Command::Health { urls } => crate::health::check(&settings, &urls).await,
        Command::Decode { files } => decode(&files),
        Command::Clients { command } => crate::clients::run(&*open().await?, command).await,
        Command::Users {
            command: UsersCommand::Disable { username },
        } => set_disabled(&*open().await?, &parse_username(&username)?, true).await,
        Command::Users {
            command: UsersCommand::Enable { username },
        } => set_disabled(&*open().await?, &parse_username(&username)?, false).await,
        Command::Users {
            command: UsersCommand::List,
        } => list_accounts(&*open().await?).await,
        Command::Users {
            command: UsersCommand::Passwd { username },
        } => {
            let username = parse_username(&username)?;
            let password = read_new_password()?;
            let hash = qrlogin_auth::account::hash_password(&password)?;
            let store = open().await?;
            let name = username.as_str().to_owned();
            if !flows::set_account_password(&*store, &username, hash, SystemClock.now()).await? {
                anyhow::bail!("there is no local account {name:?}");
            }
            audit_cli(&*store, AuditEvent::AccountPasswordChanged, &username).await?;
            writeln!(
                std::io::stdout(),
                "new password set for {name:?}; its sessions and tokens have ended"
            )?;
            Ok(())
        }
        Command::Users {
            command: UsersCommand::ResetPasskeys { account },
        } => reset_passkeys(&*open().await?, &account).await,
        Command::Users {
            command: UsersCommand::Remove { username },
        } => {
            let username = parse_username(&username)?;
            let store = open().await?;
            let name = username.as_str().to_owned();
            if !flows::remove_account(&*store, &username, SystemClock.now()).await? {
                anyhow::bail!("there is no local account {name:?}");
            }
            audit_cli(&*store, AuditEvent::AccountRemoved, &username).await?;
            writeln!(
                std::io::stdout(),
                "removed local account {name:?}; its sessions and tokens have ended"
            )?;
            Ok(())
        }
        Command::Audit {
            user,
            since,
            limit,
            follow,
            json,
        } => {
            let since = SystemClock
                .now()
                .saturating_sub(i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
            let query = AuditQuery {
                user,
                since,
                limit,
                ..Default::default()
            };
            print_audit(&*open().await?, query, follow, json).await
        }
        Command::Users {
            command:
                UsersCommand::Add {
                    username,
                    display_name,
                },
        } => {
            let username = parse_username(&username)?;
            let password = read_new_password()?;
            let store = open().await?;
            let display_name = display_name.unwrap_or_else(|| username.as_str().to_owned());
            let name = username.as_str().to_owned();
            let created = flows::create_account(
                &*store,
                username.clone(),
                display_name,
                password,
                SystemClock.now(),
            )
            .await?;
            match created {
                flows::NewAccount::Created => {}
                flows::NewAccount::Taken => anyhow::bail!("the username {name:?} is already taken"),
                flows::NewAccount::Retired => anyhow::bail!(
                    "the username {name:?} belonged to a removed account: apps it signed in to \
                     know that person by it, so it is never given to someone else; pick another"
                ),
            }
            audit_cli(&*store, AuditEvent::AccountCreated, &username).await?;
            writeln!(std::io::stdout(), "added local account {name:?}")?;
            Ok(())
        }
    }
}

/// The user id `account` names: `mentra:EMAIL` as it is, a local username as its account's.
async fn account_user_id(store: &dyn Store, account: &str) -> anyhow::Result<String> {
    if let Some(email) = account.strip_prefix("mentra:") {
        return Ok(User::mentra(&email.to_ascii_lowercase()).id);
    }
    let username = parse_username(account)?;
    match store.load_account(&username).await? {
        Some(found) => Ok(found.user().id),
        None => anyhow::bail!(
            "there is no local account {account:?} (a MentraOS account is named mentra:EMAIL)"
        ),
    }
}

async fn reset_passkeys(store: &dyn Store, account: &str) -> anyhow::Result<()> {
    let user_id = account_user_id(store, account).await?;
    let now = SystemClock.now();
    let removed = qrlogin_auth::signin::passkeys::reset_passkeys(store, &user_id, now).await?;
    let mut record = AuditRecord::new(AuditEvent::PasskeysReset, now);
    record.user = Some(user_id);
    record.detail = Some(format!("command line: {removed} passkeys removed"));
    store.append_audit(&[record]).await?;
    let passkeys = match removed {
        1 => "its one passkey".to_owned(),
        n => format!("{n} passkeys"),
    };
    writeln!(
        std::io::stdout(),
        "removed {passkeys} of {account:?}; its sessions and tokens have ended. The owner signs in again on their phone and adds a passkey there."
    )?;
    Ok(())
}

async fn list_accounts(store: &dyn Store) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    let accounts = store.list_accounts().await?;
    if accounts.is_empty() {
        writeln!(out, "no local accounts")?;
    }
    for account in accounts {
        writeln!(
            out,
            "{}\t{}\t{}",
            account.username.as_str(),
            account.display_name,
            if account.disabled {
                "disabled"
            } else {
                "enabled"
            },
        )?;
    }
    Ok(())
}

async fn set_disabled(
    store: &dyn Store,
    username: &Username,
    disabled: bool,
) -> anyhow::Result<()> {
    let name = username.as_str();
    if !flows::set_account_disabled(store, username, disabled, SystemClock.now()).await? {
        anyhow::bail!("there is no local account {name:?}");
    }
    let (event, done) = match disabled {
        true => (
            AuditEvent::AccountDisabled,
            "disabled; its sessions and tokens have stopped",
        ),
        false => (AuditEvent::AccountEnabled, "enabled"),
    };
    audit_cli(store, event, username).await?;
    writeln!(std::io::stdout(), "local account {name:?} {done}")?;
    Ok(())
}

/// How often `audit --follow` looks for new records.
const FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

async fn print_audit(
    store: &dyn Store,
    query: AuditQuery,
    follow: bool,
    json: bool,
) -> anyhow::Result<()> {
    let mut entries = store.read_audit(&query).await?;
    let mut after: Option<String> = None;
    loop {
        let mut out = std::io::stdout().lock();
        for entry in &entries {
            let line = match json {
                true => serde_json::to_string(entry)?,
                false => describe(&entry.record),
            };
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        drop(out);
        if !follow {
            return Ok(());
        }
        if let Some(last) = entries.last() {
            after = Some(last.cursor.clone());
        }
        tokio::time::sleep(FOLLOW_INTERVAL).await;
        let next = AuditQuery {
            after: after.clone(),
            ..query.clone()
        };
        entries = store.read_audit(&next).await?;
    }
}

/// One record as a line of text: time, event, outcome, then what is known of it.
fn describe(record: &AuditRecord) -> String {
    let at = std::time::UNIX_EPOCH
        + std::time::Duration::from_millis(u64::try_from(record.at).unwrap_or_default());
    let mut line = format!(
        "{} {:<17} {:<14}",
        humantime::format_rfc3339_seconds(at),
        record.event.as_str(),
        record.outcome
    );
    let fields = [
        ("user", &record.user),
        ("login_request", &record.login_request),
        ("client", &record.client),
        ("ip", &record.ip),
        ("request_id", &record.request_id),
        ("detail", &record.detail),
        ("user_agent", &record.user_agent),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            // Debug-quoted: a user agent cannot forge a line or a field.
            line.push_str(&format!(" {name}={value:?}"));
        }
    }
    line
}

fn read_new_password() -> anyhow::Result<SecretString> {
    let password: SecretString = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Password again: ")?;
        anyhow::ensure!(first == second, "the passwords differ");
        first.into()
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned().into()
    };
    anyhow::ensure!(
        password.expose_secret().chars().count() >= MIN_PASSWORD_LENGTH,
        "a password needs at least {MIN_PASSWORD_LENGTH} characters"
    );
    Ok(password)
}

/// `qrlogin decode`: every code in every file, or why there is none.
fn decode(files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    use qrlogin_qr::decode::{DEFAULT_BUDGET, Luma, read};
    let mut out = std::io::stdout().lock();
    let mut without_code = 0;
    for file in files {
        let name = file.display();
        let texts = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| Luma::from_image(&bytes).map_err(|e| e.to_string()))
            .map(|frame| read(&frame, DEFAULT_BUDGET));
        match texts {
            Ok(texts) if texts.is_empty() => {
                without_code += 1;
                writeln!(std::io::stderr(), "{name}: no QR code found")?;
            }
            Ok(texts) => {
                for text in texts {
                    writeln!(out, "{name}: {}", one_line(&text))?;
                }
            }
            Err(why) => {
                without_code += 1;
                writeln!(std::io::stderr(), "{name}: {why}")?;
            }
        }
    }
    match without_code {
        0 => Ok(()),
        n => anyhow::bail!("{n} of {} images hold no readable QR code", files.len()),
    }
}

/// A code's text on one line: line breaks and other control characters escaped (`\r\n`).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}
