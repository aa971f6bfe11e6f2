//! Our WebSockets, from the handshake to the last frame, without actix-web's connection
//! machinery in between.
//!
//! A waiting page holds its socket for minutes, and there may be tens of thousands of them.
//! Served as an ordinary streaming response, each socket kept the HTTP connection's two
//! 8 KiB buffers, actix-web's request, a channel and a task of its own for as long as it was
//! open: some 17 KiB a page. Here the handshake still goes through the whole application (its
//! middleware, extractors and every check of the route), and the route answers with [`accept`];
//! then the connection is handed over ([`hand_over`], installed by [`crate::server`]): the
//! answer is written, actix-web's buffers are dropped, and the socket's work runs on the
//! connection's own task with [`Socket`], which reads into a buffer only while a frame is
//! arriving.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use actix_codec::{Decoder, Encoder, Framed};
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_http::ws::{self, CloseCode, CloseReason, Frame};
use actix_http::{ConnectionType, HttpMessage, Request, Response, StatusCode, h1};
use actix_service::Service;
use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::dev::ServiceResponse;
use bytes::{Bytes, BytesMut};
use futures_util::SinkExt;
use futures_util::future::LocalBoxFuture;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::error::ApiError;

/// The largest frame a client may send us (as actix-web's own sockets allowed). Pages send
/// nothing but pings and their Close, and what else comes is ignored; a bigger frame ends the
/// socket (1009). Its bytes are held only while it arrives.
const LARGEST_INCOMING_FRAME: usize = 64 * 1024;
/// How much is read at once from a socket with something to read.
const READ_CHUNK: usize = 512;
/// How long a socket we closed waits for the client's Close (or its end of the connection)
/// before it lets go: dropping a connection with the client's frame unread would reset it,
/// and a reset can reach the client before our Close does.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// The client went away, or the connection broke: nothing more can be sent.
#[derive(Debug)]
pub struct Gone;

/// What a client sent, as a socket of ours needs to know it.
#[derive(Debug)]
pub enum Incoming {
    Ping(Bytes),
    /// The client closes, with its reason if it gave one.
    Close(Option<CloseReason>),
    /// Anything else: a message, a pong, a piece of one. All say the client is there.
    Other,
    /// A frame that breaks the protocol, or one too large: the socket ends with this code.
    Broken(CloseCode),
    /// The connection ended or failed.
    Gone,
}

/// One accepted WebSocket, server side, over the connection it came in on.
pub struct Socket {
    io: TcpStream,
    /// Bytes of a frame still arriving; empty, holding no memory, between frames.
    arriving: BytesMut,
    codec: ws::Codec,
}

impl Socket {
    fn new(io: TcpStream, already_read: BytesMut) -> Self {
        let mut socket = Self {
            io,
            arriving: already_read,
            codec: ws::Codec::new().max_size(LARGEST_INCOMING_FRAME),
        };
        socket.release_if_empty();
        socket
    }

    /// The next thing the client sent. Cancel-safe: what was read stays for the next call.
    pub async fn next(&mut self) -> Incoming {
        loop {
            match self.codec.decode(&mut self.arriving) {
                Ok(Some(frame)) => {
                    self.release_if_empty();
                    return match frame {
                        Frame::Ping(bytes) => Incoming::Ping(bytes),
                        Frame::Close(reason) => Incoming::Close(reason),
                        _ => Incoming::Other,
                    };
                }
                Ok(None) => {}
                Err(ws::ProtocolError::Overflow) => return Incoming::Broken(CloseCode::Size),
                Err(_) => return Incoming::Broken(CloseCode::Protocol),
            }
            if self.io.readable().await.is_err() {
                return Incoming::Gone;
            }
            self.arriving.reserve(READ_CHUNK);
            match self.io.try_read_buf(&mut self.arriving) {
                Ok(0) => return Incoming::Gone,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.release_if_empty();
                }
                Err(_) => return Incoming::Gone,
            }
        }
    }

    /// Between frames a waiting socket keeps no buffer.
    fn release_if_empty(&mut self) {
        if self.arriving.is_empty() && self.arriving.capacity() > 0 {
            self.arriving = BytesMut::new();
        }
    }

    pub async fn text(&mut self, text: String) -> Result<(), Gone> {
        self.send(ws::Message::Text(text.into())).await
    }

    pub async fn ping(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        self.send(ws::Message::Ping(Bytes::copy_from_slice(bytes)))
            .await
    }

    pub async fn pong(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        self.send(ws::Message::Pong(Bytes::copy_from_slice(bytes)))
            .await
    }

    /// Sends our Close, then waits a moment for the client's answer before letting go.
    pub async fn close(mut self, reason: Option<CloseReason>) {
        if self.send(ws::Message::Close(reason)).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            while let Incoming::Ping(_) | Incoming::Other = self.next().await {}
        })
        .await;
        let _ = self.io.shutdown().await;
    }

    /// A frame is written whole, from a buffer that lives only as long as the write.
    async fn send(&mut self, message: ws::Message) -> Result<(), Gone> {
        let mut frame = BytesMut::new();
        self.codec.encode(message, &mut frame).map_err(|_| Gone)?;
        self.io.write_all(&frame).await.map_err(|_| Gone)
    }
}

/// What a route does with its socket once the handshake is answered: carried to
/// [`hand_over`] in the answer's extensions.
struct SocketWork(Box<dyn FnOnce(Socket) -> LocalBoxFuture<'static, ()>>);

/// Marks a request whose connection [`hand_over`] holds: only such a handshake can be
/// accepted. (actix-http hands over every handshake but one sent with a chunked body: that
/// one is served as an ordinary request, and a socket accepted there would never run.)
struct HandedOver;

/// Answers a WebSocket handshake that passed the route's checks: `work` runs with the socket
/// once the answer is written, in the span of the request that opened it. That span lives as
/// long as the socket anyway (its answer is the socket) and names the path, hence the request.
pub fn accept<W, F>(request: &HttpRequest, work: W) -> Result<HttpResponse, ApiError>
where
    W: FnOnce(Socket) -> F + 'static,
    F: Future<Output = ()> + 'static,
{
    use tracing::Instrument;
    ws::verify_handshake(request.head())
        .map_err(|e| ApiError::invalid(format!("This address speaks WebSocket only: {e}")))?;
    if request.extensions().get::<HandedOver>().is_none() {
        return Err(ApiError::invalid(
            "A WebSocket handshake has no body: send it without Transfer-Encoding.",
        ));
    }
    let span = tracing::Span::current();
    let mut response = HttpResponse::from(
        ws::handshake_response(request.head())
            .finish()
            .map_into_boxed_body(),
    );
    response
        .extensions_mut()
        .insert(SocketWork(Box::new(move |socket| {
            Box::pin(work(socket).instrument(span))
        })));
    Ok(response)
}

/// Serves a handshake the connection was handed over for: the application answers it as any
/// request; an accepted socket then runs on this connection, and any other answer (a
/// refusal, a page) is written and the connection closed.
pub async fn hand_over<S, B>(
    app: Rc<S>,
    request: Request,
    framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), actix_web::Error>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    // Boxed, as the socket's work is: this future lives as long as the socket, and should
    // hold no more than the one it is waiting on.
    if let Some(socket) = Box::pin(handshake(app, request, framed)).await? {
        socket.await;
    }
    Ok(())
}

/// Answers the handshake; an accepted socket's work, ready to run.
async fn handshake<S, B>(
    app: Rc<S>,
    request: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> io::Result<Option<LocalBoxFuture<'static, ()>>>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    request.extensions_mut().insert(HandedOver);
    let mut answer: Response<BoxBody> = answer(app, request).await;
    let work = answer.extensions_mut().remove::<SocketWork>();
    match work {
        Some(SocketWork(work)) if answer.status() == StatusCode::SWITCHING_PROTOCOLS => {
            framed
                .send(h1::Message::Item((answer.drop_body(), BodySize::None)))
                .await?;
            // Only the stream and what the client sent after its handshake go on; the rest
            // (the 8 KiB write buffer first) is freed as this returns. Moved out of in the
            // socket's own future, the parts' other fields stayed there for its whole life.
            let parts = framed.into_parts();
            Ok(Some(work(Socket::new(parts.io, parts.read_buf))))
        }
        _ => write_and_close(framed, answer).await.map(|()| None),
    }
}

async fn answer<S, B>(app: Rc<S>, request: Request) -> Response<BoxBody>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let response = match app.call(request).await {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(error) => error.error_response(),
    };
    response.into()
}

/// Writes a whole answer on a connection that cannot be kept (it asked for an upgrade).
async fn write_and_close(
    mut framed: Framed<TcpStream, h1::Codec>,
    answer: Response<BoxBody>,
) -> io::Result<()> {
    let (mut head, body) = answer.into_parts();
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|error| io::Error::other(error.to_string()))?;
    head.head_mut().set_connection_type(ConnectionType::Close);
    let length = BodySize::Sized(body.len() as u64);
    framed.send(h1::Message::Item((head, length))).await?;
    framed.send(h1::Message::Chunk(Some(body))).await?;
    framed.send(h1::Message::Chunk(None)).await?;
    framed.close().await
}
