//! A TCP fault proxy between the kiosk and central.
//!
//! Each accepted connection draws one fate: pass through (for a limited, random lifetime, so
//! that even a kept-alive connection is eventually cut mid-stream), drop at once, reset (RST)
//! after reading part of the request, stall (read, never answer), answer `500` itself, or
//! forward the request and cut the answer after a few bytes (central has acted, the kiosk never
//! hears of it: the case idempotency exists for).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What happens to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Forward both ways, for a random lifetime.
    Pass,
    /// Close without reading.
    Drop,
    /// Read some of the request, then reset the connection.
    Reset,
    /// Read, never answer.
    Stall,
    /// Answer 500 with a JSON error, without asking central.
    ServerError,
    /// Forward the request; cut central's answer after a few bytes.
    Truncate,
}

/// How often each fault is drawn.
#[derive(Debug, Clone, Copy)]
pub struct FaultMix {
    /// Probability that a connection gets a fault rather than passing.
    pub fault_rate: f64,
    /// Longest life of a passing connection before it is cut.
    pub max_pass_lifetime: Duration,
}

impl Default for FaultMix {
    fn default() -> Self {
        FaultMix {
            fault_rate: 0.4,
            max_pass_lifetime: Duration::from_millis(800),
        }
    }
}

/// Counts of fates drawn, for the test's report.
#[derive(Debug, Default)]
pub struct FaultCounts {
    counts: [AtomicU64; 6],
}

impl FaultCounts {
    fn add(&self, fate: Fate) {
        self.counts[fate as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// `(fate, count)` for every fate.
    pub fn snapshot(&self) -> Vec<(Fate, u64)> {
        [
            Fate::Pass,
            Fate::Drop,
            Fate::Reset,
            Fate::Stall,
            Fate::ServerError,
            Fate::Truncate,
        ]
        .into_iter()
        .map(|f| (f, self.counts[f as usize].load(Ordering::Relaxed)))
        .collect()
    }
}

/// A running proxy.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    counts: Arc<FaultCounts>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` with faults per `mix`
    /// (`None`: no faults, a plain relay).
    pub async fn start(upstream: SocketAddr, mix: Option<FaultMix>) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(FaultCounts::default());
        let task_counts = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fate = draw(mix);
                task_counts.add(fate);
                tokio::spawn(handle(client, upstream, fate, mix.unwrap_or_default()));
            }
        });
        Ok(FaultProxy { addr, counts, task })
    }

    /// Where kiosks should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fates drawn so far.
    pub fn counts(&self) -> Vec<(Fate, u64)> {
        self.counts.snapshot()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn draw(mix: Option<FaultMix>) -> Fate {
    let Some(mix) = mix else { return Fate::Pass };
    let mut rng = rand::thread_rng();
    if !rng.gen_bool(mix.fault_rate.clamp(0.0, 1.0)) {
        return Fate::Pass;
    }
    match rng.gen_range(0..5) {
        0 => Fate::Drop,
        1 => Fate::Reset,
        2 => Fate::Stall,
        3 => Fate::ServerError,
        _ => Fate::Truncate,
    }
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, fate: Fate, mix: FaultMix) {
    let mut buf = vec![0u8; 4096];
    match fate {
        Fate::Drop => {}
        Fate::Reset => {
            let _ = client.read(&mut buf).await;
            let _ = client.set_zero_linger();
        }
        Fate::Stall => {
            // Keep reading so the client's writes succeed, answer nothing; the client's own
            // timeout ends it (or this one, so that nothing lingers after the test).
            let _ = tokio::time::timeout(Duration::from_secs(60), async {
                while let Ok(n) = client.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
        Fate::ServerError => {
            if matches!(client.read(&mut buf).await, Ok(n) if n > 0) {
                let body = r#"{"error":"internal","message":"injected by the fault proxy"}"#;
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = client.write_all(answer.as_bytes()).await;
            }
        }
        Fate::Pass => {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let lifetime = rand::thread_rng().gen_range(
                Duration::from_millis(50)..=mix.max_pass_lifetime.max(Duration::from_millis(51)),
            );
            let _ = tokio::time::timeout(
                lifetime,
                tokio::io::copy_bidirectional(&mut client, &mut server),
            )
            .await;
        }
        Fate::Truncate => {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let cut_after = rand::thread_rng().gen_range(1..80usize);
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let upward = tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            });
            let mut sent = 0usize;
            while sent < cut_after {
                match tokio::time::timeout(Duration::from_secs(30), server_read.read(&mut buf))
                    .await
                {
                    Ok(Ok(n)) if n > 0 => {
                        let take = n.min(cut_after - sent);
                        if client_write.write_all(&buf[..take]).await.is_err() {
                            break;
                        }
                        sent += take;
                    }
                    _ => break,
                }
            }
            upward.abort();
        }
    }
}
