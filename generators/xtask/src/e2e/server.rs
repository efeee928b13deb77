//! A tiny HTTP/1.0-style file server on 127.0.0.1 (the guest reaches it as
//! 10.0.2.2): serves fixed blobs by exact request target (path *and* query,
//! so the test also proves the query string reached the server intact) and
//! records every request for the assertions.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, Result};

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The raw request target, e.g. `/config/ignition.ign?node=e2e&x=%41`.
    pub target: String,
    pub status: u16,
}

type Routes = Arc<BTreeMap<String, Arc<Vec<u8>>>>;

pub struct Server {
    routes: Arc<Mutex<Routes>>,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Reserves a free port now so the stick can name it before the server
/// exists; the listener is handed to [`Server::start`].
pub fn bind() -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).context("binding a free port on 127.0.0.1")
}

impl Server {
    /// Serves `routes` (request target -> body); anything else is a 404.
    pub fn start(listener: TcpListener, routes: BTreeMap<String, Arc<Vec<u8>>>) -> Result<Self> {
        listener
            .set_nonblocking(true)
            .context("making the listener non-blocking")?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stopping) = (requests.clone(), stop.clone());
        let routes = Arc::new(Mutex::new(Arc::new(routes)));
        let shared = routes.clone();
        let thread = thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let routes = shared.lock().map(|r| r.clone()).unwrap_or_default();
                        let reqs = reqs.clone();
                        // One thread per connection: a slow guest download
                        // must not block the next request.
                        thread::spawn(move || serve(stream, &routes, &reqs));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Self {
            routes,
            requests,
            stop,
            thread: Some(thread),
        })
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Serves `body` at `target` from now on (other routes unchanged).
    pub fn set_route(&self, target: &str, body: Arc<Vec<u8>>) {
        if let Ok(mut r) = self.routes.lock() {
            let mut next = (**r).clone();
            next.insert(target.to_owned(), body);
            *r = Arc::new(next);
        }
    }

    /// Serves `routes` from now on and forgets the requests so far (the
    /// next boot of the same stick, which names this port, starts clean).
    pub fn reset(&self, routes: BTreeMap<String, Arc<Vec<u8>>>) {
        if let Ok(mut r) = self.routes.lock() {
            *r = Arc::new(routes);
        }
        if let Ok(mut l) = self.requests.lock() {
            l.clear();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, routes: &BTreeMap<String, Arc<Vec<u8>>>, log: &Mutex<Vec<Request>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Headers are read and ignored (no ranges, no keep-alive: every
    // response closes the connection).
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim() != "" {
        header.clear();
    }
    let mut words = line.split_whitespace();
    let (method, target) = (
        words.next().unwrap_or("").to_owned(),
        words.next().unwrap_or("").to_owned(),
    );
    let body = routes
        .get(&target)
        .filter(|_| method == "GET" || method == "HEAD");
    let status = if body.is_some() { 200 } else { 404 };
    if let Ok(mut l) = log.lock() {
        l.push(Request {
            method: method.clone(),
            target,
            status,
        });
    }
    let mut out = &stream;
    let empty = Vec::new();
    let payload = body.map(|b| b.as_slice()).unwrap_or(&empty);
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    let _ = out.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = out.write_all(payload);
    }
    let _ = out.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_by_exact_target_and_records_requests() {
        let mut routes = BTreeMap::new();
        routes.insert("/c?a=1&b=%41".to_owned(), Arc::new(b"hello".to_vec()));
        let listener = bind().unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = Server::start(listener, routes).unwrap();
        let ok = get(port, "/c?a=1&b=%41");
        assert!(
            ok.starts_with("HTTP/1.1 200 OK\r\n") && ok.ends_with("\r\n\r\nhello"),
            "{ok}"
        );
        // The decoded form is a different target: not served.
        assert!(get(port, "/c?a=1&b=A").starts_with("HTTP/1.1 404"));
        let r = server.requests();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].target.as_str(), r[0].status), ("/c?a=1&b=%41", 200));
        assert_eq!(r[1].status, 404);
    }
}
