//! Words for the wasi-http `error-code`s a request can end with.
//!
//! Invariant: a refusal by the host's egress policy always names the host and says that only
//! the operator can allow it, so the model does not retry or route around it.

use warden_tool::ToolError;
use wasi::http::types::ErrorCode;

/// The `ToolError` for a request to `host` (authority `authority`) that ended with `code`.
pub fn from_code(code: &ErrorCode, host: &str, authority: &str) -> ToolError {
    let message = match code {
        ErrorCode::HttpRequestDenied => {
            format!("the host does not allow requests to {host}; ask the operator to allow it")
        }
        ErrorCode::DestinationIpProhibited => format!(
            "the host does not allow requests to {host} (it resolves to an internal or private \
             address); ask the operator to allow it"
        ),
        ErrorCode::DnsError(payload) => format!(
            "could not resolve {host}{}; check the host name",
            payload
                .rcode
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        ErrorCode::DnsTimeout => format!("resolving {host} timed out; try again later"),
        ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpUnroutable => {
            format!("{authority} cannot be reached")
        }
        ErrorCode::ConnectionRefused => {
            format!("{authority} refused the connection; is a server listening there?")
        }
        ErrorCode::ConnectionTerminated | ErrorCode::HttpResponseIncomplete => {
            format!("{authority} closed the connection before the response was complete")
        }
        ErrorCode::ConnectionTimeout => format!("connecting to {authority} timed out"),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            format!("{authority} did not answer in time; raise timeout_ms or try again later")
        }
        ErrorCode::ConnectionWriteTimeout => {
            format!("sending the request to {authority} timed out")
        }
        ErrorCode::ConnectionLimitReached => {
            "the host's limit on connections was reached; try again later".into()
        }
        ErrorCode::TlsCertificateError => {
            format!(
                "the TLS certificate of {host} was not accepted (expired, self-signed or for another name)"
            )
        }
        ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => {
            format!("the TLS handshake with {authority} failed; is it an https server?")
        }
        ErrorCode::HttpRequestBodySize(limit) => match limit {
            Some(limit) => {
                format!("the request body is larger than the host allows ({limit} bytes)")
            }
            None => "the request body is larger than the host allows".into(),
        },
        ErrorCode::HttpResponseBodySize(_) => {
            "the response body is larger than the host allows; ask for a smaller resource".into()
        }
        ErrorCode::HttpRequestUriInvalid | ErrorCode::HttpRequestUriTooLong => {
            "the host refused the URL as invalid or too long".into()
        }
        ErrorCode::InternalError(Some(detail)) => {
            format!("the request failed inside the host: {detail}")
        }
        other => format!("the request to {authority} failed: {other:?}"),
    };
    ToolError::failed(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasi::http::types::DnsErrorPayload;

    #[test]
    fn a_denied_request_names_the_host_and_the_operator() {
        let err = from_code(
            &ErrorCode::HttpRequestDenied,
            "api.example.com",
            "api.example.com:443",
        );
        assert_eq!(
            err,
            ToolError::Failed(
                "the host does not allow requests to api.example.com; ask the operator to allow it"
                    .into()
            )
        );
    }

    #[test]
    fn a_prohibited_ip_is_reported_as_a_refusal_too() {
        let err = from_code(
            &ErrorCode::DestinationIpProhibited,
            "intranet",
            "intranet:80",
        );
        assert!(
            err.message()
                .starts_with("the host does not allow requests to intranet")
        );
    }

    #[test]
    fn transport_failures_name_the_authority() {
        let err = from_code(&ErrorCode::ConnectionRefused, "127.0.0.1", "127.0.0.1:9");
        assert!(
            err.message()
                .starts_with("127.0.0.1:9 refused the connection")
        );
        let err = from_code(
            &ErrorCode::DnsError(DnsErrorPayload {
                rcode: Some("NXDOMAIN".into()),
                info_code: None,
            }),
            "nope.invalid",
            "nope.invalid",
        );
        assert_eq!(
            err.message(),
            "could not resolve nope.invalid (NXDOMAIN); check the host name"
        );
    }

    #[test]
    fn other_codes_still_say_something() {
        let err = from_code(&ErrorCode::HttpProtocolError, "h", "h:80");
        assert!(err.message().contains("HttpProtocolError"), "{err:?}");
    }
}
