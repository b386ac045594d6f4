//! Sending one already-approved request: dial the checked addresses, add TLS, speak HTTP/1.1.
//!
//! Invariant: the socket only ever goes to an address the policy checked (no name is looked up
//! here), redirects are never followed (hyper's `conn` API has no such feature), and nothing
//! waits past the deadline the caller passes in.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, WasiBody};

/// The connection driver handed back to wasmtime, which spawns it.
pub(crate) type Driver = Box<dyn Future<Output = Result<(), Error>> + Send>;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// The process-wide TLS client settings: ring provider, the webpki (Mozilla) roots.
pub(crate) fn default_tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::InternalError(Some(format!("TLS setup failed: {e}"))))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

/// Maps a failed connect to the closest wasi-http error code.
fn connect_error(err: io::Error) -> Error {
    match err.kind() {
        io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
        io::ErrorKind::TimedOut => Error::ConnectionTimeout,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            Error::DestinationUnavailable
        }
        _ => Error::Connect(err),
    }
}

/// Connects to the first address that accepts, all within `connect_deadline`.
async fn dial(addrs: &[SocketAddr], connect_deadline: Instant) -> Result<TcpStream, Error> {
    let attempt = async {
        let mut last = Error::DestinationNotFound;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last = connect_error(err),
            }
        }
        Err(last)
    };
    tokio::time::timeout_at(connect_deadline, attempt)
        .await
        .map_err(|_| Error::ConnectionTimeout)?
}

/// What the transport needs to know about the destination.
pub(crate) struct Target<'a> {
    /// Checked addresses, in the resolver's order.
    pub addrs: &'a [SocketAddr],
    /// For HTTPS: the name the certificate must be valid for, and the client settings.
    pub tls: Option<(ServerName<'static>, Arc<rustls::ClientConfig>)>,
    /// End of the connect phase (DNS excluded).
    pub connect_deadline: Instant,
    /// The guest's first-byte timeout, counted from the moment the request is sent.
    pub first_byte: Option<Duration>,
    /// End of the whole request.
    pub deadline: Instant,
}

/// Connects, sends `request` (URI already in origin form) and waits for the response head.
/// Returns the response with hyper's body and the connection driver.
pub(crate) async fn send(
    target: Target<'_>,
    request: http::Request<WasiBody>,
) -> Result<(http::Response<hyper::body::Incoming>, Driver), Error> {
    let tcp = dial(target.addrs, target.connect_deadline).await?;
    let stream: Box<dyn Stream> = match target.tls {
        Some((name, config)) => {
            let connector = tokio_rustls::TlsConnector::from(config);
            let tls =
                tokio::time::timeout_at(target.connect_deadline, connector.connect(name, tcp))
                    .await
                    .map_err(|_| Error::ConnectionTimeout)?
                    .map_err(tls_error)?;
            Box::new(tls)
        }
        None => Box::new(tcp),
    };
    let (mut sender, conn) = tokio::time::timeout_at(
        target.connect_deadline,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    let mut response = pin!(sender.send_request(request));
    let mut conn = Some(conn);
    // Drive the connection until the head arrives; never poll it again once it has finished.
    let head = poll_fn(|cx| match response.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(result.map_err(Error::from)),
        Poll::Pending => {
            let Some(driver) = conn.as_mut() else {
                return Poll::Pending;
            };
            let finished = std::task::ready!(Pin::new(driver).poll(cx));
            conn = None;
            match finished {
                Ok(()) => response.as_mut().poll(cx).map_err(Error::from),
                Err(err) => Poll::Ready(Err(Error::from(err))),
            }
        }
    });
    let first_byte_deadline = target.first_byte.map(|d| Instant::now() + d);
    let head_deadline = first_byte_deadline.map_or(target.deadline, |fb| fb.min(target.deadline));
    let head = match tokio::time::timeout_at(head_deadline, head).await {
        Ok(result) => result?,
        Err(_) if head_deadline < target.deadline => return Err(Error::ConnectionReadTimeout),
        Err(_) => return Err(Error::HttpResponseTimeout),
    };
    let deadline = target.deadline;
    let driver: Driver = Box::new(async move {
        let Some(conn) = conn else {
            return Ok(());
        };
        // Closing the connection at the deadline also ends a body the guest is still reading.
        match tokio::time::timeout_at(deadline, conn).await {
            Ok(result) => result.map_err(Error::from),
            Err(_) => Err(Error::HttpResponseTimeout),
        }
    });
    Ok((head, driver))
}

/// Maps a TLS failure: certificate problems apart from protocol problems.
fn tls_error(err: io::Error) -> Error {
    let certificate = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|e| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
        });
    if certificate {
        Error::TlsCertificateError
    } else {
        Error::TlsProtocolError
    }
}
