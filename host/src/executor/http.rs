//! Outgoing HTTP from guests, until the egress policy module is wired in: every request is
//! denied before any connection exists, and the denial is counted so the call can report a
//! typed `CapabilityDenied`.

use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, Result as HttpResult, WasiBody, WasiHttpHooks,
};

/// Denies every outgoing request and records it.
#[derive(Debug, Default)]
pub(crate) struct DenyAllHttp {
    pub(crate) requests: u32,
    pub(crate) denied: u32,
    pub(crate) last_denial: Option<String>,
}

impl WasiHttpHooks for DenyAllHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = HttpResult<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                )>,
            > + Send,
    > {
        self.requests += 1;
        self.denied += 1;
        let host = request.uri().host().unwrap_or("<no host>").to_string();
        self.last_denial = Some(format!(
            "outgoing HTTP to {host} is not allowed by the policy"
        ));
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}
