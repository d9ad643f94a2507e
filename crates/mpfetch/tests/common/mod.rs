//! A local stand-in for the Materials Project: the REST routes and the parsed-data bucket,
//! serving documents built from the real files in `fixtures/` (see
//! `tools/fixtures/mp_make_fixtures.py`), with faults injected on demand.
//!
//! The HTTP/1.1 is written by hand on a `TcpListener` (loopback only) rather than with a server
//! crate, because the faults must be exact: a connection closed before any answer, a body cut
//! after its headers promised more, a gzip cut short but served as a complete 200.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{Map, Value};

/// A fault served instead of the normal answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// 429 with `Retry-After: secs`.
    TooMany { retry_after: u64 },
    /// 500.
    ServerError,
    /// The connection is closed without an answer.
    Drop,
    /// Headers and half the body, then the connection is closed.
    DropMidBody,
    /// 200 with the first half of the (gzip) body, its length announced honestly.
    TruncatedGzip,
}

struct Rule {
    path_contains: String,
    remaining: usize,
    fault: Fault,
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub query: String,
    /// The `x-api-key` header, if any.
    pub key: Option<String>,
    pub status: u16,
    pub at: Instant,
}

pub struct State {
    key: String,
    routes: HashMap<String, Vec<Value>>,
    bucket: HashMap<String, Vec<u8>>,
    rules: Mutex<Vec<Rule>>,
    pub log: Mutex<Vec<Logged>>,
    /// After this many answered requests, every connection is dropped (0 = never).
    down_after: AtomicUsize,
    answered: AtomicUsize,
    shutdown: AtomicBool,
}

pub struct MpServer {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crate sits at crates/<name>")
        .to_path_buf()
}

pub fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("fixture gzip");
    out
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// fixtures/mp/routes.json: `{"routes": {name: [docs]}, "bucket": {key: fixture path}}`.
pub fn fixture() -> Value {
    let p = repo_root().join("fixtures/mp/routes.json");
    serde_json::from_slice(&std::fs::read(&p).expect("fixtures/mp/routes.json")).unwrap()
}

/// The bucket's objects: DOS files as they are; charge densities wrapped as MP's bucket holds
/// them (`{"task_id", "data": <Chgcar>}`, gzip).
pub fn bucket_objects(fx: &Value) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    for (key, path) in fx["bucket"].as_object().unwrap() {
        let bytes = std::fs::read(repo_root().join(path.as_str().unwrap())).unwrap();
        let obj = if key.starts_with("chgcars/") {
            let task = key
                .trim_start_matches("chgcars/")
                .trim_end_matches(".json.gz");
            let inner = String::from_utf8(gunzip(&bytes)).unwrap();
            gzip(
                format!(r#"{{"task_id": "{task}", "fs_id": "{task}", "data": {inner}}}"#)
                    .as_bytes(),
            )
        } else {
            bytes
        };
        out.insert(key.clone(), obj);
    }
    out
}

impl MpServer {
    pub fn start(key: &str) -> MpServer {
        let fx = fixture();
        let routes = fx["routes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_array().unwrap().clone()))
            .collect();
        let state = Arc::new(State {
            key: key.to_string(),
            routes,
            bucket: bucket_objects(&fx),
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            down_after: AtomicUsize::new(0),
            answered: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(&st, conn);
                });
            }
        });
        MpServer {
            addr,
            state,
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    pub fn bucket_url(&self) -> String {
        format!("http://{}/bucket", self.addr)
    }

    /// Serves `fault` to the next `times` requests whose path contains `path_contains`.
    pub fn fault(&self, path_contains: &str, times: usize, fault: Fault) {
        self.state.rules.lock().unwrap().push(Rule {
            path_contains: path_contains.into(),
            remaining: times,
            fault,
        });
    }

    /// Drops every connection after `n` more answered requests.
    pub fn go_down_after(&self, n: usize) {
        let now = self.state.answered.load(Ordering::SeqCst);
        self.state.down_after.store(now + n, Ordering::SeqCst);
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.log.lock().unwrap().clone()
    }
}

impl Drop for MpServer {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(conn: &mut TcpStream, status: u16, ctype: &str, body: &[u8], extra: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
    let _ = conn.flush();
}

fn handle(st: &State, mut conn: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut key = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.trim().eq_ignore_ascii_case("x-api-key") {
                key = Some(value.trim().to_string());
            }
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let log = |status: u16| {
        st.log.lock().unwrap().push(Logged {
            path: path.clone(),
            query: query.clone(),
            key: key.clone(),
            status,
            at: Instant::now(),
        })
    };
    let down = st.down_after.load(Ordering::SeqCst);
    if down > 0 && st.answered.load(Ordering::SeqCst) >= down {
        log(0);
        return Ok(()); // connection dropped
    }
    st.answered.fetch_add(1, Ordering::SeqCst);
    let (status, ctype, body) = answer(st, &path, &query, key.as_deref());
    // Faults model broken transfers of documents that exist: a request MP answers with 404
    // (no data) or 401 never consumes one, so which worker asks first does not matter.
    let fault = (status == 200)
        .then(|| {
            let mut rules = st.rules.lock().unwrap();
            rules
                .iter_mut()
                .find(|r| r.remaining > 0 && path.contains(&r.path_contains))
                .map(|r| {
                    r.remaining -= 1;
                    r.fault
                })
        })
        .flatten();
    match fault {
        Some(Fault::TooMany { retry_after }) => {
            log(429);
            respond(
                &mut conn,
                429,
                "application/json",
                br#"{"detail": "rate limited"}"#,
                &format!("Retry-After: {retry_after}\r\n"),
            );
        }
        Some(Fault::ServerError) => {
            log(500);
            respond(&mut conn, 500, "text/plain", b"internal error", "");
        }
        Some(Fault::Drop) => log(0),
        Some(Fault::DropMidBody) => {
            log(200);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes())?;
            conn.write_all(&body[..body.len() / 2])?;
            conn.flush()?;
        }
        Some(Fault::TruncatedGzip) => {
            log(200);
            respond(&mut conn, status, ctype, &body[..body.len() / 2], "");
        }
        None => {
            log(status);
            respond(&mut conn, status, ctype, &body, "");
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Both);
    Ok(())
}

fn answer(st: &State, path: &str, query: &str, key: Option<&str>) -> (u16, &'static str, Vec<u8>) {
    if let Some(k) = path.strip_prefix("/bucket/") {
        return match st.bucket.get(k) {
            Some(b) => (200, "application/gzip", b.clone()),
            None => (
                404,
                "application/xml",
                format!("<Error><Code>NoSuchKey</Code><Key>{k}</Key></Error>").into_bytes(),
            ),
        };
    }
    let Some(route) = path.strip_prefix("/api/materials/") else {
        return (
            404,
            "application/json",
            br#"{"detail": "Not Found"}"#.to_vec(),
        );
    };
    if key != Some(st.key.as_str()) {
        return (
            401,
            "application/json",
            br#"{"detail": "Invalid or missing API key"}"#.to_vec(),
        );
    }
    let route = route.trim_end_matches('/');
    let Some(docs) = st.routes.get(route) else {
        return (
            404,
            "application/json",
            br#"{"detail": "Not Found"}"#.to_vec(),
        );
    };
    let params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let mut selected: Vec<&Value> = docs.iter().collect();
    let (mut limit, mut skip, mut fields) = (100usize, 0usize, None::<Vec<String>>);
    for (k, v) in &params {
        match k.as_str() {
            "_limit" => limit = v.parse().unwrap_or(100).min(1000),
            "_skip" => skip = v.parse().unwrap_or(0),
            "_fields" => fields = Some(v.split(',').map(str::to_string).collect()),
            "material_ids" | "task_ids" => {
                let id_key = if k == "task_ids" {
                    "task_id"
                } else {
                    "material_id"
                };
                let ids: Vec<&str> = v.split(',').collect();
                selected.retain(|d| d[id_key].as_str().is_some_and(|i| ids.contains(&i)));
            }
            _ if k.ends_with("_min") || k.ends_with("_max") => {
                let field = &k[..k.len() - 4];
                let Ok(x) = v.parse::<f64>() else {
                    return (
                        400,
                        "application/json",
                        br#"{"detail": "bad number"}"#.to_vec(),
                    );
                };
                let min = k.ends_with("_min");
                selected.retain(|d| {
                    d[field]
                        .as_f64()
                        .is_some_and(|y| if min { y >= x } else { y <= x })
                });
            }
            _ => {
                selected.retain(|d| match &d[k.as_str()] {
                    Value::String(s) => s == v,
                    Value::Null => false,
                    other => v.parse::<Value>().is_ok_and(|p| p == *other),
                });
            }
        }
    }
    let total = selected.len();
    let page: Vec<Value> = selected
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|d| match (&fields, d) {
            (Some(f), Value::Object(m)) => Value::Object(
                m.iter()
                    .filter(|(k, _)| f.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Map<String, Value>>(),
            ),
            _ => d.clone(),
        })
        .collect();
    let body = serde_json::json!({"data": page, "meta": {"total_doc": total, "max_limit": 1000}});
    (200, "application/json", body.to_string().into_bytes())
}
