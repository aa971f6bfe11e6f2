//! The connections the services accept.

use std::net::TcpListener;

use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_web::server::{Application, SendsAtOnce};

use crate::helpers::{Backend, TestCluster, client};

/// Nagle's algorithm is off on every accepted connection: a response written in two pieces
/// does not wait for the client's delayed ACK. Read back from the socket itself, through the
/// services' own server builder.
#[tokio::test]
async fn every_accepted_connection_sends_each_write_at_once() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let state = cluster.state(0);
    let public_url = state.settings.desktop_public_url.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let probe = |config: &mut web::ServiceConfig| {
        config.route(
            "/probe",
            web::get().to(|request: HttpRequest| async move {
                HttpResponse::Ok().json(request.conn_data::<SendsAtOnce>().map(|sends| sends.0))
            }),
        );
    };
    let app = Application::build("probe", state, &public_url, listener, probe).unwrap();
    tokio::spawn(app.run_until_stopped());
    for _ in 0..2 {
        // A new connection each time: each is set when it is accepted.
        let answer: Option<bool> = client()
            .get(format!("{base}/probe"))
            .header("connection", "close")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer, Some(true));
    }
}
