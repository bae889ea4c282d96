//! The connections the listener does not answer itself, served by hyper with the app's
//! router: pages, metrics, assets, the app's own routes. Each request head, the first
//! and every one after on a kept-alive connection, must arrive within
//! `Config::request_head_timeout`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower_service::Service as _;

use super::ServerShared;
use super::admission::ConnectionPermit;
use super::socket::LazyRead;

/// The client address of a request as the server counts it: the socket's peer, or the
/// client a trusted proxy names ([`Config::trusted_proxies`](crate::Config::trusted_proxies)).
/// Requests served by [`Server::bind`](crate::Server::bind) and
/// [`serve`](crate::serve) carry it as an extension (`Extension<ClientAddr>`), and
/// axum's `ConnectInfo<SocketAddr>` with the socket's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// A TCP connection and the bytes already read off it, read again first; it holds the
/// connection's place ([`ConnectionPermit`]) until it is dropped.
pub(super) struct Rewind {
    stream: LazyRead<TcpStream>,
    _permit: ConnectionPermit,
}

impl Rewind {
    pub(super) fn new(prefix: Vec<u8>, stream: TcpStream, permit: ConnectionPermit) -> Self {
        Rewind { stream: LazyRead::with_pending(stream, prefix), _permit: permit }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().stream.get_mut()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().stream.get_mut()).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.get_ref().is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().stream.get_mut()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().stream.get_mut()).poll_shutdown(cx)
    }
}

/// Serves `io` with `router` until the client closes it, a head is too slow, or the
/// server stops (`stopping` turns true: the request in progress is finished first).
pub(super) async fn serve(
    io: Rewind,
    peer: SocketAddr,
    server: &ServerShared,
    router: Router,
    mut stopping: watch::Receiver<bool>,
) {
    let admission = server.admission.clone();
    let service = hyper::service::service_fn(move |mut request: axum::http::Request<Incoming>| {
        let client = admission.client_address(peer.ip(), request.headers());
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(ClientAddr(client));
        router.clone().call(request.map(Body::new))
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(server.config().request_head_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let mut asked_to_stop = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "HTTP connection ended with an error");
                }
                return;
            }
            _ = stopping.wait_for(|stop| *stop), if !asked_to_stop => {
                asked_to_stop = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
