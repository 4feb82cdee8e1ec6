//! The client's address: the peer, or an `X-Forwarded-For` entry when trusted proxies (the
//! load balancer) put it there. Never the leftmost entry blindly: a client can write that.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("unknown"),
        }
    }
}

impl ClientIp {
    /// With `hops` trusted proxies, each appending the address it received the request from,
    /// the client is the `hops`-th entry from the right of `X-Forwarded-For`. With 0 hops, or
    /// a header shorter than that, it is the peer: the TCP peer, or under AWS Lambda the
    /// address API Gateway saw (`sourceIp` of the request context).
    pub fn resolve(headers: &HeaderMap, extensions: &Extensions, hops: usize) -> Self {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .or_else(|| lambda_source_ip(extensions));
        if hops == 0 {
            return Self(peer);
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let from_proxy = entries
            .len()
            .checked_sub(hops)
            .and_then(|i| entries[i].parse::<IpAddr>().ok());
        Self(from_proxy.or(peer))
    }

    pub fn from_request(request: &Request, hops: usize) -> Self {
        Self::resolve(request.headers(), request.extensions(), hops)
    }
}

#[cfg(feature = "lambda")]
fn lambda_source_ip(extensions: &Extensions) -> Option<IpAddr> {
    use lambda_http::request::RequestContext;
    let source = match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.as_deref(),
        _ => None,
    };
    source?.parse().ok()
}

#[cfg(not(feature = "lambda"))]
fn lambda_source_ip(_: &Extensions) -> Option<IpAddr> {
    None
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self::resolve(
            &parts.headers,
            &parts.extensions,
            state.settings.trusted_proxy_hops,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(xff: &[&str], hops: usize) -> String {
        let mut headers = HeaderMap::new();
        for v in xff {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        let mut ext = Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
        ClientIp::resolve(&headers, &ext, hops).to_string()
    }

    #[test]
    fn trusts_only_the_configured_hops() {
        assert_eq!(resolve(&["1.1.1.1"], 0), "10.0.0.1");
        assert_eq!(resolve(&["6.6.6.6, 1.1.1.1"], 1), "1.1.1.1");
        assert_eq!(resolve(&["6.6.6.6, 1.1.1.1, 35.1.1.1"], 2), "1.1.1.1");
        assert_eq!(resolve(&["6.6.6.6", "1.1.1.1"], 1), "1.1.1.1");
        assert_eq!(resolve(&[], 1), "10.0.0.1");
        assert_eq!(resolve(&["1.1.1.1"], 2), "10.0.0.1");
        assert_eq!(resolve(&["6.6.6.6, not-an-ip"], 1), "10.0.0.1");
        assert_eq!(resolve(&["2001:db8::1"], 1), "2001:db8::1");
    }

    #[cfg(feature = "lambda")]
    #[test]
    fn under_lambda_the_peer_is_api_gateways_source_ip() {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
        use lambda_http::request::RequestContext;
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some("203.0.113.7".into());
        let mut ext = Extensions::new();
        ext.insert(RequestContext::ApiGatewayV2(context));
        let ip = ClientIp::resolve(&HeaderMap::new(), &ext, 0);
        assert_eq!(ip.to_string(), "203.0.113.7");
        assert_eq!(
            ClientIp::resolve(&HeaderMap::new(), &Extensions::new(), 0).to_string(),
            "unknown"
        );
    }
}
