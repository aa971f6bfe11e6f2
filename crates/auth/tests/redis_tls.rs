#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! `rediss://`: the store talks TLS to Redis and checks the server's certificate: trusted
//! through `REDIS_CA_CERT` (a private CA), refused when nothing vouches for it.

use qrlogin_auth::clock::{Clock, SystemClock};
use qrlogin_auth::store::Store;
use qrlogin_auth::store::redis::{RedisStore, RedisTarget};
use qrlogin_testkit::{RedisServer, unique_prefix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_speaks_tls_to_a_server_its_ca_vouches_for_and_to_no_other() {
    let Some((server, ca)) = RedisServer::start_tls() else {
        return;
    };
    assert!(server.url().starts_with("rediss://"));
    let trusted = RedisTarget::standalone(server.url().into()).with_ca_certificate(ca);
    let store = RedisStore::connect(&trusted, &unique_prefix())
        .await
        .unwrap();
    store.ping().await.unwrap();
    let in_a_minute = SystemClock.now() + 60_000;
    assert!(store.use_once("tls-check", in_a_minute).await.unwrap());
    assert!(!store.use_once("tls-check", in_a_minute).await.unwrap());

    // The public roots do not include our throwaway CA: the certificate is refused.
    let untrusted = RedisTarget::standalone(server.url().into());
    let refused = RedisStore::connect(&untrusted, &unique_prefix()).await;
    let error = refused.err().expect("an unknown CA is refused").to_string();
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
}
