//! A TCP relay that can be switched off and on: "the hall's network is down" for one kiosk.
//! Off, it refuses new connections (accepts and closes them at once) and cuts the open ones.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    online: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<JoinHandle<()>>>>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Listens on a free loopback port and relays to `upstream`, online.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Relay> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let online = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (flag, conns) = (online.clone(), open.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                if let Ok(mut conns) = conns.lock() {
                    conns.retain(|h| !h.is_finished());
                    conns.push(relay);
                }
            }
        });
        Ok(Relay {
            addr,
            online,
            open,
            task,
        })
    }

    /// Where the kiosk connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Network down (cuts open connections) or back up.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::SeqCst);
        if !online && let Ok(mut conns) = self.open.lock() {
            for conn in conns.drain(..) {
                conn.abort();
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        self.set_online(false);
    }
}
