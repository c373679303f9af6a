#![allow(clippy::unwrap_used, dead_code)]
//! A small HTTP/1.1 server on a local port for the client's tests: each request is handed to
//! a closure that decides the answer, including answers no real central sends (a body that
//! never ends, a redirect elsewhere). Every request it read is kept for the test to inspect.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The body of an answer.
pub enum Body {
    /// These bytes, with a `Content-Length`.
    Bytes(Vec<u8>),
    /// Zeros until the client hangs up, announcing `Content-Length: declared` if given
    /// (otherwise the end would be the connection's close).
    Endless { declared: Option<u64> },
}

/// An answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Answer {
    pub fn json(status: u16, value: &impl serde::Serialize) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::Bytes(serde_json::to_vec(value).unwrap()),
        }
    }

    pub fn error(status: u16, code: &str, message: &str) -> Answer {
        Answer::json(
            status,
            &serde_json::json!({ "error": code, "message": message }),
        )
    }
}

type Handler = dyn Fn(&Request) -> Answer + Send + Sync;

/// A running server; stops with the test's runtime.
pub struct Server {
    pub base: String,
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    /// Bytes of body written for endless answers, summed.
    pub endless_sent: Arc<Mutex<u64>>,
}

impl Server {
    pub async fn start(handler: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let endless_sent = Arc::new(Mutex::new(0u64));
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen, sent) = (requests.clone(), endless_sent.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (handler, seen, sent) = (handler.clone(), seen.clone(), sent.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut socket).await else {
                        return;
                    };
                    let answer = handler(&request);
                    seen.lock().unwrap().push(request);
                    let _ = write_answer(&mut socket, answer, &sent).await;
                });
            }
        });
        Server {
            base: format!("http://127.0.0.1:{port}"),
            port,
            requests,
            endless_sent,
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

async fn write_answer(
    socket: &mut tokio::net::TcpStream,
    answer: Answer,
    sent: &Mutex<u64>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", answer.status);
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match &answer.body {
        Body::Bytes(bytes) => head.push_str(&format!("content-length: {}\r\n", bytes.len())),
        Body::Endless {
            declared: Some(len),
        } => head.push_str(&format!("content-length: {len}\r\n")),
        Body::Endless { declared: None } => {}
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    match answer.body {
        Body::Bytes(bytes) => socket.write_all(&bytes).await?,
        Body::Endless { .. } => {
            let zeros = vec![b'0'; 64 * 1024];
            // Up to 1 GiB: far past any limit, so a client without one would be caught.
            for _ in 0..16_384 {
                socket.write_all(&zeros).await?;
                *sent.lock().unwrap() += zeros.len() as u64;
            }
        }
    }
    socket.shutdown().await
}
