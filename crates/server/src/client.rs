//! A minimal HTTP/1.1 client for the platform's own API: used by `huanghe bench` and the
//! end-to-end tests, so neither needs a full HTTP client stack. One request per connection
//! (`Connection: close`), bodies with `Content-Length` or chunked transfer coding.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request to the API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, writing or reading failed.
    #[error("HTTP {0}")]
    Io(#[from] std::io::Error),
    /// No answer in time.
    #[error("HTTP request timed out")]
    Timeout,
    /// The answer is not HTTP/1.1 as expected.
    #[error("malformed HTTP response: {0}")]
    Malformed(&'static str),
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
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: */*\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, bytes)) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    if let Some((_, bytes)) = body {
        stream.write_all(bytes).await?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<Response, ClientError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(ClientError::Malformed("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| ClientError::Malformed("headers"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or(ClientError::Malformed("status line"))?;
    let mut chunked = false;
    let mut content_type = None;
    let mut headers = Vec::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            headers.push((name.to_owned(), value.to_owned()));
            if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                chunked = true;
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_owned());
            }
        }
    }
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        content_type,
        body,
        headers,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(ClientError::Malformed("chunk size line"))?;
        let size_text = std::str::from_utf8(&data[..line_end])
            .map_err(|_| ClientError::Malformed("chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ClientError::Malformed("chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data
            .get(..size)
            .ok_or(ClientError::Malformed("chunk cut short"))?;
        out.extend_from_slice(chunk);
        data = data
            .get(size + 2..)
            .ok_or(ClientError::Malformed("chunk end"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_chunked_bodies() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        )
        .expect("parses");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        let r = parse(b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .expect("parses");
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
        assert!(parse(b"garbage").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n").is_err());
    }
}
