//! `qrlogin clients …`: registering the third-party apps that may create sign-ins with an
//! API key and receive identity tokens. Keys are printed once and kept only as hashes.

use std::io::Write;

use clap::Subcommand;
use qrlogin_auth::audit::{AuditEvent, AuditRecord};
use qrlogin_auth::client::{ClientType, ConfirmationMode, RegisteredClient, registry};
use qrlogin_auth::clock::{Clock, SystemClock};
use qrlogin_auth::store::Store;
use secrecy::{ExposeSecret, SecretString};

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Register an app; prints its client id and its API key (shown this once only).
    Add {
        /// The name the phone shows: "Sign in to NAME".
        name: String,
        /// Where the app's users may be sent back to (repeatable; https, or http on localhost).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A browser origin that may follow the app's sign-ins (repeatable), like
        /// https://app.example.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// `tap` (the phone's tap signs in) or `pin` (the phone shows a PIN to type).
        #[arg(long, default_value = "tap", value_parser = ConfirmationMode::parse)]
        confirmation: ConfirmationMode,
        /// Let devices sign in through the OAuth device authorization grant with the app's
        /// (public) client id. Off without it; needs tap confirmation.
        #[arg(long)]
        device_grant: bool,
        /// A public client (a single-page or native app, which cannot keep a secret): it
        /// signs users in through OpenID Connect with PKCE alone, and has no API key.
        #[arg(long)]
        public: bool,
        /// Where OpenID Connect logout may send the app's users back to (repeatable; exact
        /// match).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Every approval of the app's sign-ins needs the owner's passkey on the phone,
        /// whatever PASSKEY_APPROVAL says (glasses cannot approve them).
        #[arg(long)]
        passkey: bool,
    },
    /// List the registered apps (never their keys).
    List,
    /// Replace an app's API key: the old one stops working at once; prints the new one.
    RotateKey { client_id: String },
    /// Turn the OAuth device authorization grant on or off for an app already registered
    /// (apps registered before the option existed have it off).
    DeviceGrant {
        client_id: String,
        #[arg(value_parser = ["on", "off"])]
        switch: String,
    },
    /// Remove an app: its key stops working, its pending sign-ins cannot be redeemed.
    Remove { client_id: String },
}

async fn record(
    store: &dyn Store,
    event: AuditEvent,
    client: &RegisteredClient,
) -> anyhow::Result<()> {
    let mut entry = AuditRecord::new(event, SystemClock.now());
    entry.client = Some(client.name.clone());
    let grant = if client.device_grant {
        ", device grant on"
    } else {
        ""
    };
    entry.detail = Some(format!("{} (command line{grant})", client.id));
    Ok(store.append_audit(&[entry]).await?)
}

fn print_key(id: &str, key: &SecretString) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    writeln!(out, "client_id: {id}")?;
    writeln!(out, "api_key:   {}", key.expose_secret())?;
    writeln!(
        out,
        "Keep the API key on the app's server only: it is shown this once, and a browser never needs it."
    )?;
    Ok(())
}

fn print_public(id: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    writeln!(out, "client_id: {id}")?;
    writeln!(
        out,
        "A public client has no secret: it signs its users in with PKCE alone."
    )?;
    Ok(())
}

pub async fn run(store: &dyn Store, command: ClientsCommand) -> anyhow::Result<()> {
    match command {
        ClientsCommand::Add {
            name,
            redirect_uris,
            origins,
            confirmation,
            device_grant,
            public,
            post_logout_redirect_uris,
            passkey,
        } => {
            let (mut client, key) = RegisteredClient::register(
                &name,
                redirect_uris,
                origins,
                confirmation,
                device_grant,
                SystemClock.now(),
            )
            .map_err(|why| anyhow::anyhow!(why))?;
            client
                .set_post_logout_redirect_uris(post_logout_redirect_uris)
                .map_err(|why| anyhow::anyhow!(why))?;
            if public {
                client.make_public();
            }
            if passkey {
                client.passkey = qrlogin_auth::client::ClientPasskey::Required;
            }
            if !registry::add(store, &client).await? {
                anyhow::bail!("a client id collided; run the command again");
            }
            record(store, AuditEvent::ClientRegistered, &client).await?;
            match client.client_type {
                ClientType::Public => print_public(&client.id),
                ClientType::Confidential => print_key(&client.id, &key),
            }
        }
        ClientsCommand::List => {
            let mut out = std::io::stdout();
            let clients = registry::list(store).await?;
            if clients.is_empty() {
                writeln!(out, "no registered clients")?;
            }
            for client in clients {
                writeln!(
                    out,
                    "{}\t{}\tconfirmation={}\tdevice_grant={}\ttype={}\tpasskey={}\tredirect_uris={}\tpost_logout_redirect_uris={}\torigins={}",
                    client.id,
                    client.name,
                    client.confirmation.as_str(),
                    if client.device_grant { "on" } else { "off" },
                    match client.client_type {
                        ClientType::Public => "public",
                        ClientType::Confidential => "confidential",
                    },
                    match client.passkey {
                        qrlogin_auth::client::ClientPasskey::Required => "required",
                        qrlogin_auth::client::ClientPasskey::AsDeployment => "as-deployment",
                    },
                    client.redirect_uris.join(","),
                    client.post_logout_redirect_uris.join(","),
                    client.origins.join(","),
                )?;
            }
            Ok(())
        }
        ClientsCommand::RotateKey { client_id } => {
            let Some(mut client) = registry::load(store, &client_id).await? else {
                anyhow::bail!("there is no client {client_id:?}");
            };
            let key = client.rotate_key(SystemClock.now());
            if !registry::save(store, &client).await? {
                anyhow::bail!("the client {client_id:?} was removed meanwhile");
            }
            record(store, AuditEvent::ClientKeyRotated, &client).await?;
            print_key(&client.id, &key)
        }
        ClientsCommand::DeviceGrant { client_id, switch } => {
            let Some(mut client) = registry::load(store, &client_id).await? else {
                anyhow::bail!("there is no client {client_id:?}");
            };
            client
                .allow_device_grant(switch == "on")
                .map_err(|why| anyhow::anyhow!(why))?;
            if !registry::save(store, &client).await? {
                anyhow::bail!("the client {client_id:?} was removed meanwhile");
            }
            record(store, AuditEvent::ClientUpdated, &client).await?;
            writeln!(
                std::io::stdout(),
                "device grant {switch} for client {client_id} ({})",
                client.name
            )?;
            Ok(())
        }
        ClientsCommand::Remove { client_id } => {
            let Some(client) = registry::load(store, &client_id).await? else {
                anyhow::bail!("there is no client {client_id:?}");
            };
            registry::remove(store, &client_id).await?;
            record(store, AuditEvent::ClientRemoved, &client).await?;
            writeln!(
                std::io::stdout(),
                "removed client {client_id} ({})",
                client.name
            )?;
            Ok(())
        }
    }
}
