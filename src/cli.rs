//! The `qrlogin` command line.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Parser, Subcommand};
use qrlogin_auth::account::{MIN_PASSWORD_LENGTH, Username};
use qrlogin_auth::clock::{Clock, SystemClock};
use qrlogin_auth::flows;
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
    /// Manage local accounts (for people without a MentraOS account).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
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
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve(settings).await,
        Command::Users {
            command:
                UsersCommand::Add {
                    username,
                    display_name,
                },
        } => {
            let username = Username::parse(&username)
                .map_err(|why| anyhow::anyhow!("invalid username: {why}"))?;
            let password = read_new_password()?;
            let store =
                open_store(&settings, std::sync::Arc::new(SystemClock), REDIS_PREFIX).await?;
            let display_name = display_name.unwrap_or_else(|| username.as_str().to_owned());
            let name = username.as_str().to_owned();
            if !flows::create_account(&*store, username, display_name, password, SystemClock.now())
                .await?
            {
                anyhow::bail!("the username {name:?} is already taken");
            }
            writeln!(std::io::stdout(), "added local account {name:?}")?;
            Ok(())
        }
    }
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
