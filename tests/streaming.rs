//! Response streaming against a raw in-test "Runtime API" that records the exact bytes of the
//! chunked post, and a real in-test app server (std only).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use lambda_adapter::app::{AppClient, AppRequest};
use lambda_adapter::config::{ApiEndpoint, Config};
use lambda_adapter::lambda::invocation::{Invocation, now_ms};
use lambda_adapter::lambda::{RuntimeClient, USER_AGENT};
use lambda_adapter::reply::Reply;
use lambda_adapter::reply::chunked::Ending;
use lambda_adapter::reply::stream::{self, Piece};
use lambda_adapter::worker::Worker;

const WAIT: Duration = Duration::from_secs(10);
const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

// ---------------------------------------------------------------------------------------------
// The capture server: one chunked POST, decoded as it arrives.

#[derive(Debug)]
enum Seen {
    Head(String),
    Chunk(Vec<u8>),
    Done { trailers: Vec<String>, raw: Vec<u8> },
    Failed(String),
}

/// Records every byte read, so the test can compare the raw request.
struct Tee {
    inner: TcpStream,
    raw: Vec<u8>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.raw.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

fn line(reader: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => Err("connection closed".into()),
        Ok(_) => Ok(line.trim_end_matches("\r\n").to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn capture(reader: &mut BufReader<Tee>, seen: &mpsc::Sender<Seen>) -> Result<Vec<String>, String> {
    let mut head = String::new();
    loop {
        let l = line(reader)?;
        if l.is_empty() {
            break;
        }
        head.push_str(&l);
        head.push('\n');
    }
    let _ = seen.send(Seen::Head(head));
    loop {
        let size = usize::from_str_radix(&line(reader)?, 16)
            .map_err(|e| format!("bad chunk size: {e}"))?;
        if size == 0 {
            let mut trailers = Vec::new();
            loop {
                let l = line(reader)?;
                if l.is_empty() {
                    return Ok(trailers);
                }
                trailers.push(l);
            }
        }
        let mut data = vec![0; size];
        reader.read_exact(&mut data).map_err(|e| e.to_string())?;
        if !line(reader)?.is_empty() {
            return Err("missing CRLF after chunk data".into());
        }
        let _ = seen.send(Seen::Chunk(data));
    }
}

/// A Runtime API stand-in that accepts one streamed post and answers 202.
fn capture_server() -> (SocketAddr, mpsc::Receiver<Seen>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(Tee {
            inner: stream,
            raw: Vec::new(),
        });
        match capture(&mut reader, &tx) {
            Ok(trailers) => {
                let body = r#"{"status":"OK"}"#;
                let answer = format!(
                    "HTTP/1.1 202 Accepted\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = writer.write_all(answer.as_bytes());
                let raw = std::mem::take(&mut reader.get_mut().raw);
                let _ = tx.send(Seen::Done { trailers, raw });
            }
            Err(e) => {
                let _ = tx.send(Seen::Failed(e));
            }
        }
    });
    (addr, rx, handle)
}

/// Everything the capture server saw, once the post is complete.
struct Post {
    head: String,
    chunks: Vec<Vec<u8>>,
    trailers: Vec<String>,
    raw: Vec<u8>,
}

impl Post {
    /// The decoded body: prelude, 8 NULs, app body.
    fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    fn prelude_and_body(&self) -> (String, Vec<u8>) {
        let body = self.body();
        let at = body
            .windows(8)
            .position(|w| w == [0; 8])
            .expect("8 NUL bytes after the prelude");
        (
            String::from_utf8(body[..at].to_vec()).unwrap(),
            body[at + 8..].to_vec(),
        )
    }

    fn trailer(&self, name: &str) -> Option<String> {
        self.trailers
            .iter()
            .find_map(|t| t.strip_prefix(&format!("{name}: ")).map(str::to_string))
    }
}

fn collect(rx: &mpsc::Receiver<Seen>) -> Post {
    let mut post = Post {
        head: String::new(),
        chunks: Vec::new(),
        trailers: Vec::new(),
        raw: Vec::new(),
    };
    loop {
        match rx
            .recv_timeout(WAIT)
            .expect("the capture server saw the whole post")
        {
            Seen::Head(head) => post.head = head,
            Seen::Chunk(data) => post.chunks.push(data),
            Seen::Done { trailers, raw } => {
                post.trailers = trailers;
                post.raw = raw;
                return post;
            }
            Seen::Failed(e) => panic!("the streamed post is malformed: {e}"),
        }
    }
}

fn expected_head(addr: SocketAddr) -> String {
    format!(
        "POST /2018-06-01/runtime/invocation/{REQUEST_ID}/response HTTP/1.1\n\
         user-agent: {USER_AGENT}\n\
         transfer-encoding: chunked\n\
         lambda-runtime-function-response-mode: streaming\n\
         trailer: Lambda-Runtime-Function-Error-Type\n\
         trailer: Lambda-Runtime-Function-Error-Body\n\
         content-type: application/vnd.awslambda.http-integration-response\n\
         host: {addr}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// The app: one connection, one scripted response.

fn app_server(script: impl FnOnce(TcpStream) + Send + 'static) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).unwrap() == 0 {
                return;
            }
            head.push(byte[0]);
        }
        script(stream);
    });
    (addr, handle)
}

fn invocation(deadline_in: Duration) -> Invocation {
    let deadline = (now_ms() + deadline_in.as_millis() as u64).to_string();
    Invocation::from_headers(
        REQUEST_ID.to_string(),
        |name| match name {
            "lambda-runtime-deadline-ms" => Some(deadline.as_str()),
            _ => None,
        },
        b"{}".to_vec(),
    )
}

fn get() -> AppRequest {
    AppRequest {
        method: "GET".into(),
        target: "/events".into(),
        headers: vec![("host".into(), "localhost".into())],
        body: Vec::new(),
    }
}

/// Sends a GET to the app and streams its response to the Runtime API at `runtime`, as the
/// worker does; returns the reply and when it was returned.
fn stream_once(
    app: SocketAddr,
    runtime: SocketAddr,
    inv: &Invocation,
    app_deadline: Instant,
) -> (Reply, Instant) {
    let runtime = RuntimeClient::new(ApiEndpoint::parse(&runtime.to_string()).unwrap());
    let mut client = AppClient::new(app, Duration::from_secs(2), Some(Duration::from_secs(4)));
    let mut exchange = client.send(&get(), app_deadline).unwrap();
    exchange.head.remove_header_swapping("transfer-encoding");
    let reply = stream::stream(&runtime, inv, &mut exchange, app_deadline);
    (reply, Instant::now())
}

fn spawn_stream(
    app: SocketAddr,
    runtime: SocketAddr,
    deadline_in: Duration,
) -> JoinHandle<(Reply, Instant, Instant)> {
    std::thread::spawn(move || {
        let inv = invocation(deadline_in);
        let hard = Instant::now() + inv.remaining();
        let (reply, at) = stream_once(app, runtime, &inv, hard - Duration::from_millis(100));
        (reply, at, hard)
    })
}

fn is_streamed(reply: &Reply) -> bool {
    matches!(reply, Reply::Streamed)
}

fn error_body(post: &Post) -> serde_json::Value {
    let encoded = post
        .trailer("Lambda-Runtime-Function-Error-Body")
        .expect("an error body trailer");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    serde_json::from_slice(&decoded).unwrap()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn sse_chunks_reach_the_runtime_api_while_the_app_is_still_sending() {
    let (runtime, seen, capture) = capture_server();
    let (go_on, go) = mpsc::channel::<()>();
    let (app, app_thread) = app_server(move |mut s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        s.write_all(b"9\r\ndata: 1\n\n\r\n").unwrap();
        // The next event is only sent once the Runtime API has seen this one.
        let saw_first = go.recv_timeout(WAIT).is_ok();
        s.write_all(b"9\r\ndata: 2\n\n\r\n").unwrap();
        let saw_second = go.recv_timeout(WAIT).is_ok();
        s.write_all(b"0\r\n\r\n").unwrap();
        assert!(
            saw_first && saw_second,
            "events were held back until the app finished"
        );
    });
    let streaming = spawn_stream(app, runtime, Duration::from_secs(30));

    let mut body = Vec::new();
    let mut chunks = Vec::new();
    let mut signalled = 0;
    let (trailers, raw) = loop {
        match seen
            .recv_timeout(WAIT)
            .expect("the capture server saw the whole post")
        {
            Seen::Head(head) => assert_eq!(head, expected_head(runtime)),
            Seen::Chunk(data) => {
                body.extend_from_slice(&data);
                chunks.push(data);
                let events = body.windows(8).filter(|w| w.starts_with(b"data: ")).count();
                while signalled < events {
                    signalled += 1;
                    go_on.send(()).unwrap();
                }
            }
            Seen::Done { trailers, raw } => break (trailers, raw),
            Seen::Failed(e) => panic!("{e}"),
        }
    };
    app_thread.join().unwrap();
    let (reply, _, _) = streaming.join().unwrap();
    capture.join().unwrap();

    assert!(is_streamed(&reply));
    assert!(trailers.is_empty(), "no error trailers: {trailers:?}");
    let prelude =
        br#"{"statusCode":200,"headers":{"content-type":"text/event-stream"},"cookies":[]}"#;
    let mut expected = prelude.to_vec();
    expected.extend_from_slice(&[0; 8]);
    expected.extend_from_slice(b"data: 1\n\ndata: 2\n\n");
    assert_eq!(body, expected);
    assert!(
        chunks[0].starts_with(prelude),
        "the prelude comes first, in the first chunk"
    );
    assert!(
        raw.ends_with(b"0\r\n\r\n"),
        "the body ends with the zero chunk and no trailers"
    );
}

#[test]
fn complete_response_prelude_body_and_framing() {
    let (runtime, seen, capture) = capture_server();
    let (app, app_thread) = app_server(|mut s| {
        s.write_all(
            b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nSet-Cookie: a=1; Path=/\r\nX-Dup: 1\r\n\
              X-Dup: 2\r\nSet-Cookie: b=2\r\nContent-Length: 11\r\n\r\nhello world",
        )
        .unwrap();
    });
    let (reply, _, _) = spawn_stream(app, runtime, Duration::from_secs(30))
        .join()
        .unwrap();
    let post = collect(&seen);
    app_thread.join().unwrap();
    capture.join().unwrap();

    assert!(is_streamed(&reply));
    assert_eq!(post.head, expected_head(runtime));
    let (prelude, body) = post.prelude_and_body();
    assert_eq!(
        prelude,
        r#"{"statusCode":201,"headers":{"content-type":"text/plain","content-length":"11","x-dup":["1","2"]},"cookies":["a=1; Path=/","b=2"]}"#
    );
    assert_eq!(body, b"hello world");
    assert!(post.trailers.is_empty());
    // The body came with the head, so the request head, prelude, NULs and body go out at once,
    // in one chunk.
    assert_eq!(post.chunks.len(), 1, "{:?}", post.chunks);
    assert!(post.raw.ends_with(b"\0hello world\r\n0\r\n\r\n"));
}

#[test]
fn empty_body_is_prelude_nuls_and_the_zero_chunk() {
    let (runtime, seen, capture) = capture_server();
    let (app, app_thread) = app_server(|mut s| {
        s.write_all(b"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n")
            .unwrap();
    });
    let (reply, _, _) = spawn_stream(app, runtime, Duration::from_secs(30))
        .join()
        .unwrap();
    let post = collect(&seen);
    app_thread.join().unwrap();
    capture.join().unwrap();

    assert!(is_streamed(&reply));
    let prelude = r#"{"statusCode":204,"headers":{"x-a":"b","content-type":"application/octet-stream"},"cookies":[]}"#;
    let mut expected = format!(
        "POST /2018-06-01/runtime/invocation/{REQUEST_ID}/response HTTP/1.1\r\n\
         user-agent: {USER_AGENT}\r\n\
         transfer-encoding: chunked\r\n\
         lambda-runtime-function-response-mode: streaming\r\n\
         trailer: Lambda-Runtime-Function-Error-Type\r\n\
         trailer: Lambda-Runtime-Function-Error-Body\r\n\
         content-type: application/vnd.awslambda.http-integration-response\r\n\
         host: {runtime}\r\n\r\n{:X}\r\n{prelude}",
        prelude.len() + 8
    )
    .into_bytes();
    expected.extend_from_slice(&[0; 8]);
    expected.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(
        String::from_utf8_lossy(&post.raw),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn app_closing_mid_body_ends_with_error_trailers() {
    let (runtime, seen, capture) = capture_server();
    let (app, app_thread) = app_server(|mut s| {
        s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial",
        )
        .unwrap();
        // Dropping the stream closes the connection 93 bytes short.
    });
    let (reply, _, _) = spawn_stream(app, runtime, Duration::from_secs(30))
        .join()
        .unwrap();
    let post = collect(&seen);
    app_thread.join().unwrap();
    capture.join().unwrap();

    assert!(
        is_streamed(&reply),
        "the invocation was answered by the stream itself"
    );
    let (_, body) = post.prelude_and_body();
    assert_eq!(body, b"partial", "no error text is appended to the body");
    assert_eq!(
        post.trailer("Lambda-Runtime-Function-Error-Type")
            .as_deref(),
        Some("App.ConnectionClosed")
    );
    let error = error_body(&post);
    assert_eq!(error["errorType"], "App.ConnectionClosed");
    assert!(
        error["errorMessage"].as_str().unwrap().contains("93 bytes"),
        "{error}"
    );
}

#[test]
fn hung_app_ends_with_timeout_trailers_before_the_deadline() {
    let (runtime, seen, capture) = capture_server();
    let (release, hold) = mpsc::channel::<()>();
    let (app, app_thread) = app_server(move |mut s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            .unwrap();
        let _ = hold.recv_timeout(WAIT);
    });
    let (reply, returned_at, hard_deadline) =
        spawn_stream(app, runtime, Duration::from_millis(1500))
            .join()
            .unwrap();
    let post = collect(&seen);
    release.send(()).unwrap();
    app_thread.join().unwrap();
    capture.join().unwrap();

    assert!(is_streamed(&reply));
    assert!(
        returned_at < hard_deadline,
        "the stream ended before the invocation deadline"
    );
    let (_, body) = post.prelude_and_body();
    assert_eq!(body, b"first");
    assert_eq!(
        post.trailer("Lambda-Runtime-Function-Error-Type")
            .as_deref(),
        Some("App.Timeout")
    );
    assert_eq!(error_body(&post)["errorType"], "App.Timeout");
}

#[test]
fn unreachable_runtime_api_falls_back_to_an_error_post() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (app, app_thread) = app_server(|mut s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
    });
    let (reply, _, _) = spawn_stream(app, closed, Duration::from_secs(30))
        .join()
        .unwrap();
    app_thread.join().unwrap();
    match reply {
        Reply::Error {
            error_type,
            message,
        } => {
            assert_eq!(error_type, "Adapter.StreamFailed");
            assert!(message.contains(&closed.to_string()), "{message}");
        }
        _ => panic!("expected an error reply"),
    }
}

#[test]
fn stalled_runtime_api_slows_the_app_and_frees_the_worker_at_the_deadline() {
    // A Runtime API that accepts the connection and never reads.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let runtime = listener.local_addr().unwrap();
    let (stop, stopped) = mpsc::channel::<()>();
    let stalled = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let _ = stopped.recv_timeout(WAIT);
        drop(conn);
    });
    const OFFERED: usize = 1 << 30;
    let (app, app_thread) = app_server(|mut s| {
        s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {OFFERED}\r\n\r\n").as_bytes())
            .unwrap();
        let block = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < OFFERED && s.write_all(&block).is_ok() {
            sent += block.len();
        }
        assert!(
            sent < OFFERED / 4,
            "the app could push {sent} bytes although nothing was taken on"
        );
    });
    let streaming = spawn_stream(app, runtime, Duration::from_millis(1500));
    // Watchdog: a worker stuck for good fails the test instead of hanging it.
    let finish_by = Instant::now() + WAIT;
    while !streaming.is_finished() {
        assert!(
            Instant::now() < finish_by,
            "the worker is stuck on a stalled Runtime API"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (reply, returned_at, hard_deadline) = streaming.join().unwrap();
    stop.send(()).unwrap();
    stalled.join().unwrap();
    app_thread.join().unwrap();
    assert!(
        is_streamed(&reply),
        "the post had started, so there is nothing more to send"
    );
    assert!(
        returned_at < hard_deadline + Duration::from_secs(2),
        "the worker was pinned past the deadline"
    );
}

#[test]
fn writer_framing_is_exact() {
    // The first write: request head, prelude, NULs and the first bytes in one chunk. Then
    // the relay, fed a channel that already holds the rest: waiting pieces merged.
    let mut out = Vec::new();
    let ending = stream::write_first(
        &mut out,
        b"HEAD\r\n\r\n".to_vec(),
        b"{}\0\0\0\0\0\0\0\0".to_vec(),
        Some(Piece::Data(b"abc".to_vec())),
    )
    .unwrap();
    assert_eq!(ending, None, "the body goes on");
    let (tx, rx) = crossbeam_channel::bounded(8);
    tx.send(Piece::Data(b"def".to_vec())).unwrap();
    tx.send(Piece::Data(b"gh".to_vec())).unwrap();
    tx.send(Piece::End).unwrap();
    let ending = stream::relay(&mut out, &rx, far()).unwrap();
    assert_eq!(ending, Ending::Complete);
    assert_eq!(
        out,
        b"HEAD\r\n\r\nD\r\n{}\0\0\0\0\0\0\0\0abc\r\n5\r\ndefgh\r\n0\r\n\r\n"
    );

    // A body that is complete at the first write ends in that same write.
    let mut out = Vec::new();
    let ending =
        stream::write_first(&mut out, Vec::new(), b"P".to_vec(), Some(Piece::End)).unwrap();
    assert_eq!(ending, Some(Ending::Complete));
    assert_eq!(out, b"1\r\nP\r\n0\r\n\r\n");

    // No body yet: the prelude goes out alone.
    let mut out = Vec::new();
    let ending = stream::write_first(&mut out, Vec::new(), b"P".to_vec(), None).unwrap();
    assert_eq!(ending, None);
    assert_eq!(out, b"1\r\nP\r\n");

    let (tx, rx) = crossbeam_channel::bounded(8);
    tx.send(Piece::Data(b"abc".to_vec())).unwrap();
    tx.send(Piece::Failed(lambda_adapter::app::AppError::new(
        lambda_adapter::app::AppErrorKind::ConnectionClosed,
        "gone",
    )))
    .unwrap();
    let mut out = Vec::new();
    let ending = stream::relay(&mut out, &rx, far()).unwrap();
    assert_eq!(
        ending,
        Ending::Failed {
            error_type: "App.ConnectionClosed".into(),
            message: "gone".into()
        }
    );
    let body = base64::engine::general_purpose::STANDARD
        .encode(r#"{"errorMessage":"gone","errorType":"App.ConnectionClosed"}"#);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "3\r\nabc\r\n0\r\nLambda-Runtime-Function-Error-Type: App.ConnectionClosed\r\n\
             Lambda-Runtime-Function-Error-Body: {body}\r\n\r\n"
        )
    );
}

#[test]
fn the_prelude_does_not_wait_for_a_slow_body() {
    // The app sends its head but holds its body until the Runtime API has seen the status
    // and headers: they must go out on their own.
    let (runtime, seen, capture) = capture_server();
    let (go_on, go) = mpsc::channel::<()>();
    let (app, app_thread) = app_server(move |mut s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n")
            .unwrap();
        let saw_prelude = go.recv_timeout(WAIT).is_ok();
        s.write_all(b"late").unwrap();
        assert!(saw_prelude, "the prelude was held back until the body came");
    });
    let streaming = spawn_stream(app, runtime, Duration::from_secs(30));
    let mut chunks = Vec::new();
    let trailers = loop {
        match seen
            .recv_timeout(WAIT)
            .expect("the capture server saw the whole post")
        {
            Seen::Head(_) => {}
            Seen::Chunk(data) => {
                if chunks.is_empty() {
                    go_on.send(()).unwrap();
                }
                chunks.push(data);
            }
            Seen::Done { trailers, .. } => break trailers,
            Seen::Failed(e) => panic!("{e}"),
        }
    };
    app_thread.join().unwrap();
    let (reply, _, _) = streaming.join().unwrap();
    capture.join().unwrap();
    assert!(is_streamed(&reply));
    assert!(trailers.is_empty(), "no error trailers: {trailers:?}");
    let mut prelude =
        br#"{"statusCode":200,"headers":{"content-type":"text/plain","content-length":"4"},"cookies":[]}"#
            .to_vec();
    prelude.extend_from_slice(&[0; 8]);
    assert_eq!(chunks, vec![prelude, b"late".to_vec()]);
}

fn far() -> Instant {
    Instant::now() + WAIT
}

#[test]
fn every_event_source_streams_the_same_format() {
    // Through the worker: a pass-through event (SQS) gets the HTTP-integration prelude too.
    let (runtime, seen, capture) = capture_server();
    let (app, app_thread) = app_server(|mut s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
            .unwrap();
    });
    let vars = [
        ("AWS_LAMBDA_RUNTIME_API", runtime.to_string()),
        ("AWS_LWA_PORT", app.port().to_string()),
        ("AWS_LWA_INVOKE_MODE", "response_stream".to_string()),
    ];
    let config = Config::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let event =
        br#"{"Records":[{"messageId":"1","eventSource":"aws:sqs","body":"hello"}]}"#.to_vec();
    let deadline = (now_ms() + 30_000).to_string();
    let inv = Invocation::from_headers(
        REQUEST_ID.into(),
        |name| (name == "lambda-runtime-deadline-ms").then_some(deadline.as_str()),
        event,
    );
    let reply = Worker::new(&config, true).handle(&inv);
    let post = collect(&seen);
    app_thread.join().unwrap();
    capture.join().unwrap();

    assert!(is_streamed(&reply));
    let (prelude, body) = post.prelude_and_body();
    assert_eq!(
        prelude,
        r#"{"statusCode":200,"headers":{"content-type":"application/json","content-length":"11"},"cookies":[]}"#
    );
    assert_eq!(body, br#"{"ok":true}"#);
}

/// Time to first byte: the app called directly vs. through the streaming path.
/// `cargo test --release --test streaming -- --ignored --nocapture ttfb`
#[test]
#[ignore]
fn ttfb() {
    const ROUNDS: usize = 200;
    let app_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = app_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in app_listener.incoming() {
            let Ok(mut s) = conn else { break };
            s.set_nodelay(true).unwrap();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(s.try_clone().unwrap());
                loop {
                    let mut l = String::new();
                    loop {
                        l.clear();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 {
                            return;
                        }
                        if l == "\r\n" {
                            break;
                        }
                    }
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n");
                    std::thread::sleep(Duration::from_millis(1));
                    let _ = s.write_all(b"0\r\n\r\n");
                }
            });
        }
    });

    // Direct: request written -> first body byte read.
    let mut direct = Vec::new();
    let mut s = TcpStream::connect(app).unwrap();
    s.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        let mut l = String::new();
        loop {
            l.clear();
            reader.read_line(&mut l).unwrap();
            if l == "\r\n" {
                break;
            }
        }
        l.clear();
        reader.read_line(&mut l).unwrap(); // chunk size
        l.clear();
        reader.read_line(&mut l).unwrap(); // "first"
        direct.push(start.elapsed());
        l.clear();
        reader.read_line(&mut l).unwrap();
        l.clear();
        reader.read_line(&mut l).unwrap();
        l.clear();
        reader.read_line(&mut l).unwrap();
    }

    // Through the adapter: request sent to the app -> first body byte at the Runtime API.
    let mut streamed = Vec::new();
    let mut client = AppClient::new(app, Duration::from_secs(2), Some(Duration::from_secs(4)));
    for _ in 0..ROUNDS {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let runtime = RuntimeClient::new(
            ApiEndpoint::parse(&listener.local_addr().unwrap().to_string()).unwrap(),
        );
        let (first_tx, first_rx) = mpsc::channel::<Instant>();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            let mut reported = false;
            loop {
                let n = r.read(&mut buf).unwrap();
                all.extend_from_slice(&buf[..n]);
                if !reported && all.windows(6).any(|w| w == b"first\n") {
                    first_tx.send(Instant::now()).unwrap();
                    reported = true;
                }
                if n == 0 || all.ends_with(b"0\r\n\r\n") {
                    break;
                }
            }
            let _ = w.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
        });
        let inv = invocation(Duration::from_secs(30));
        let deadline = Instant::now() + Duration::from_secs(29);
        let start = Instant::now();
        let mut exchange = client.send(&get(), deadline).unwrap();
        exchange.head.remove_header_swapping("transfer-encoding");
        let reply = stream::stream(&runtime, &inv, &mut exchange, deadline);
        drop(exchange);
        assert!(is_streamed(&reply));
        streamed.push(first_rx.recv().unwrap() - start);
        server.join().unwrap();
    }
    let report = |name: &str, v: &mut Vec<Duration>| {
        v.sort();
        println!(
            "{name}: p50 {:?}  p90 {:?}  p99 {:?}",
            v[v.len() / 2],
            v[v.len() * 9 / 10],
            v[v.len() * 99 / 100]
        );
    };
    report("direct  ", &mut direct);
    report("streamed", &mut streamed);
}
