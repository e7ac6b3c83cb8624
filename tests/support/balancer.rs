//! Test harness: a TCP round-robin balancer on loopback, standing in for a Kubernetes
//! Service in front of several gateways. A backend that refuses the connection is skipped;
//! the backend list can change while it runs (a replica restarted on new ports).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub struct Balancer {
    pub addr: SocketAddr,
    backends: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Balancer {
    pub async fn start(backends: Vec<SocketAddr>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("balancer port");
        let addr = listener.local_addr().expect("balancer address");
        let backends = Arc::new(Mutex::new(backends));
        let next = Arc::new(AtomicUsize::new(0));
        let list = backends.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let candidates = list.lock().expect("backends").clone();
                let start = next.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    for i in 0..candidates.len() {
                        let target = candidates[(start + i) % candidates.len()];
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, backends }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_backends(&self, backends: Vec<SocketAddr>) {
        *self.backends.lock().expect("backends") = backends;
    }
}
