//! Cost of the egress policy in wasi-http's `send_request` hook, side by side with a plain
//! hyper GET on the same loopback server (the floor any policy-checked request pays).
//!
//! Run: `cargo bench -p warden --bench egress`. All traffic stays on 127.0.0.1.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use warden_sandbox::egress::{EgressHooks, EgressPolicy, HostRule, Resolver, StaticResolver};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{WasiBody, WasiHttpHooks};

/// A loopback server answering every request with 200 "ok".
async fn start_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"ok"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn empty() -> WasiBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// One request through the hooks, as wasi-http makes it; returns the body length or 0.
async fn through_hooks(hooks: &mut EgressHooks, url: &str) -> usize {
    let request = http::Request::get(url).body(empty()).unwrap();
    let future = hooks.send_request(request, None, Box::new(async { Ok(()) }));
    match Pin::from(future).await {
        Ok((response, driver)) => {
            tokio::spawn(Pin::from(driver));
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .len()
        }
        Err(_) => 0,
    }
}

/// The same GET with hyper directly: connect, handshake, send, read.
async fn plain_hyper(addr: SocketAddr) -> usize {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get("/")
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let addr = rt.block_on(start_server());
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let internal: IpAddr = "10.0.0.1".parse().unwrap();
    let resolver: Arc<dyn Resolver> = Arc::new(
        StaticResolver::new()
            .with("svc.test", [loopback])
            .with("internal.test", [internal]),
    );
    let policy = Arc::new(
        EgressPolicy::default()
            .allow(
                HostRule::parse(&format!("svc.test:{}", addr.port()))
                    .unwrap()
                    .allow_private(true),
            )
            .allow(HostRule::parse(&format!("internal.test:{}", addr.port())).unwrap()),
    );
    let allowed = format!("http://svc.test:{}/", addr.port());
    let internal_url = format!("http://internal.test:{}/", addr.port());

    let mut group = c.benchmark_group("egress");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("denied_host_not_allowed", |b| {
        b.iter(|| {
            let mut hooks = EgressHooks::new(policy.clone(), resolver.clone());
            rt.block_on(through_hooks(&mut hooks, black_box("http://evil.example/")))
        })
    });
    group.bench_function("denied_internal_ip", |b| {
        b.iter(|| {
            let mut hooks = EgressHooks::new(policy.clone(), resolver.clone());
            rt.block_on(through_hooks(&mut hooks, black_box(&internal_url)))
        })
    });
    group.bench_function("allowed_loopback_get", |b| {
        b.iter(|| {
            let mut hooks = EgressHooks::new(policy.clone(), resolver.clone());
            rt.block_on(through_hooks(&mut hooks, black_box(&allowed)))
        })
    });
    group.bench_function("plain_hyper_loopback_get", |b| {
        b.iter(|| rt.block_on(plain_hyper(black_box(addr))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
