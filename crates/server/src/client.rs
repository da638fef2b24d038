//! A small client for the platform's own API, used by `huanghe bench` and the end-to-end tests:
//! one request per HTTP/1.1 connection over hyper's client connection (the same HTTP
//! implementation the server uses), the whole response read into memory.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

/// A request to the API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, writing or reading failed.
    #[error("HTTP {0}")]
    Io(#[from] std::io::Error),
    /// No answer in time.
    #[error("HTTP request timed out")]
    Timeout,
    /// The request could not be written (a method or header the HTTP syntax forbids).
    #[error("invalid HTTP request: {0}")]
    Request(String),
    /// The exchange failed (connection closed early, malformed response).
    #[error("HTTP {0}")]
    Http(#[from] hyper::Error),
}

/// A response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Body (de-chunked).
    pub body: Vec<u8>,
    /// Every header (name as sent, value trimmed).
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request and reads the whole response, within `timeout`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<&str>,
    timeout: Duration,
) -> Result<Response, ClientError> {
    tokio::time::timeout(timeout, exchange(addr, method, path, json_body))
        .await
        .map_err(|_| ClientError::Timeout)?
}

/// Sends one request with extra headers and an optional body of any type.
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
    timeout: Duration,
) -> Result<Response, ClientError> {
    tokio::time::timeout(timeout, send(addr, method, path, headers, body))
        .await
        .map_err(|_| ClientError::Timeout)?
}

async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<&str>,
) -> Result<Response, ClientError> {
    let body = json_body.map(|b| ("application/json", b.as_bytes()));
    send(addr, method, path, &[], body).await
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Result<Response, ClientError> {
    let method = hyper::Method::from_bytes(method.as_bytes())
        .map_err(|e| ClientError::Request(format!("method {method:?}: {e}")))?;
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::ACCEPT, "*/*");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let content = match body {
        Some((content_type, bytes)) => {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
            Bytes::copy_from_slice(bytes)
        }
        None => Bytes::new(),
    };
    let request = request
        .body(Full::new(content))
        .map_err(|e| ClientError::Request(e.to_string()))?;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    // The connection is driven beside the request; it ends with the response (or an error
    // the request sees).
    let connection = tokio::spawn(connection);
    let result = async {
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes().to_vec();
        Ok::<_, ClientError>((parts, body))
    }
    .await;
    connection.abort();
    let (parts, body) = result?;
    let text = |v: &hyper::header::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    Ok(Response {
        status: parts.status.as_u16(),
        content_type: parts.headers.get(hyper::header::CONTENT_TYPE).map(text),
        body,
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), text(value)))
            .collect(),
    })
}
