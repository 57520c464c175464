//! Load on the emulator's front door: N keep-alive clients that connect at the same moment,
//! each sending requests back to back, through `lambda-emulator` and the real adapter to a
//! small app served by this program. It reports requests per second, latency percentiles and
//! the slowest request of each emulator binary given, in interleaved rounds (A, B, A, B...),
//! so that two front doors are compared in the same run on the same machine.
//!
//! ```text
//! cargo build --release --features emulator
//! cargo run --release --features emulator --example front_door_load -- \
//!     --adapter target/release/lambda-adapter \
//!     target/release/lambda-emulator [OTHER_EMULATOR...] [--clients 8] [--seconds 5] [--rounds 3]
//! ```
//! The function runs with `AWS_LAMBDA_MAX_CONCURRENCY` = the number of clients. A client whose
//! connection sits unserved (a front door that queues a connection behind busy ones) shows as
//! a slowest request of seconds, or as a client with no completed request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// A request that takes longer than this counts as stalled.
const STALL: Duration = Duration::from_secs(1);

struct Options {
    adapter: String,
    emulators: Vec<String>,
    clients: usize,
    seconds: u64,
    rounds: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        adapter: "target/release/lambda-adapter".into(),
        emulators: Vec::new(),
        clients: 8,
        seconds: 5,
        rounds: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--adapter" => options.adapter = value()?,
            "--clients" => options.clients = value()?.parse().map_err(|e| format!("{e}"))?,
            "--seconds" => options.seconds = value()?.parse().map_err(|e| format!("{e}"))?,
            "--rounds" => options.rounds = value()?.parse().map_err(|e| format!("{e}"))?,
            _ => options.emulators.push(arg),
        }
    }
    if options.emulators.is_empty() {
        return Err("give at least one lambda-emulator binary".into());
    }
    Ok(options)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

/// The app: keep-alive HTTP/1.1, every request answered `ok`, a thread per connection.
fn serve_app(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let Ok(writer) = stream.try_clone() else {
                return;
            };
            let mut writer = writer;
            let mut reader = BufReader::new(stream);
            loop {
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let answer =
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
                if writer.write_all(answer).is_err() {
                    return;
                }
            }
        });
    }
}

struct Emulator {
    child: Child,
    front: String,
}

impl Emulator {
    fn start(
        binary: &str,
        adapter: &str,
        app_port: u16,
        clients: usize,
    ) -> Result<Emulator, String> {
        let front = format!("127.0.0.1:{}", free_port());
        let child = Command::new(binary)
            .args(["--runtime-api", &format!("127.0.0.1:{}", free_port())])
            .args([
                "--listen",
                &front,
                "--adapter",
                adapter,
                "--",
                "sleep",
                "3600",
            ])
            .env("AWS_LWA_PORT", app_port.to_string())
            .env("AWS_LAMBDA_MAX_CONCURRENCY", clients.to_string())
            .env("AWS_LAMBDA_LOG_LEVEL", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{binary}: {e}"))?;
        let mut emulator = Emulator { child, front };
        // Ready when a request goes all the way through.
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut client) = Client::connect(&emulator.front) {
                if client.get().is_ok() {
                    return Ok(emulator);
                }
            }
            if Instant::now() > until {
                let _ = emulator.child.kill();
                return Err(format!("{binary}: the front door never answered"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // SIGKILL: the emulator's watchdog stops the adapter.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: &str) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(40)))?;
        Ok(Client {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// One keep-alive GET; `Ok(false)` when the server closes the connection after it.
    fn get(&mut self) -> std::io::Result<bool> {
        self.writer
            .write_all(b"GET /load HTTP/1.1\r\nhost: load\r\n\r\n")?;
        let mut line = String::new();
        let mut length = 0usize;
        let mut keep = true;
        let mut first = true;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if first {
                if !line.starts_with("HTTP/1.1 200") {
                    return Err(std::io::Error::other(line.trim().to_string()));
                }
                first = false;
                continue;
            }
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                keep = false;
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(keep)
    }
}

struct Round {
    latencies: Vec<Duration>,
    errors: usize,
    idle_clients: usize,
    reconnects: usize,
    elapsed: Duration,
}

fn load(front: &str, clients: usize, seconds: u64) -> Round {
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (front, stop, barrier) = (front.to_string(), stop.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let (mut errors, mut reconnects) = (0, 0);
                barrier.wait();
                let mut client = Client::connect(&front).ok();
                while !stop.load(Ordering::SeqCst) {
                    let Some(c) = client.as_mut() else {
                        errors += 1;
                        client = Client::connect(&front).ok();
                        continue;
                    };
                    let start = Instant::now();
                    match c.get() {
                        Ok(keep) => {
                            latencies.push(start.elapsed());
                            if !keep {
                                reconnects += 1;
                                client = Client::connect(&front).ok();
                            }
                        }
                        Err(_) => {
                            errors += 1;
                            client = Client::connect(&front).ok();
                        }
                    }
                }
                (latencies, errors, reconnects)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::SeqCst);
    let mut round = Round {
        latencies: Vec::new(),
        errors: 0,
        idle_clients: 0,
        reconnects: 0,
        elapsed: Duration::ZERO,
    };
    for thread in threads {
        if let Ok((latencies, errors, reconnects)) = thread.join() {
            if latencies.is_empty() {
                round.idle_clients += 1;
            }
            round.latencies.extend(latencies);
            round.errors += errors;
            round.reconnects += reconnects;
        }
    }
    round.elapsed = start.elapsed();
    round.latencies.sort();
    round
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(at).copied().unwrap_or_default()
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("front_door_load: {e}");
            std::process::exit(2);
        }
    };
    let Ok(app) = TcpListener::bind("127.0.0.1:0") else {
        eprintln!("front_door_load: cannot listen for the app");
        std::process::exit(1);
    };
    let app_port = app.local_addr().map_or(0, |a| a.port());
    std::thread::spawn(move || serve_app(app));
    println!(
        "{} keep-alive clients connecting at once, {} s per round, AWS_LAMBDA_MAX_CONCURRENCY={}",
        options.clients, options.seconds, options.clients
    );
    println!(
        "emulator | round | req/s | p50 ms | p99 ms | max ms | stalled (>1 s) | idle clients | errors | reconnects"
    );
    for round in 1..=options.rounds {
        for binary in &options.emulators {
            let emulator =
                match Emulator::start(binary, &options.adapter, app_port, options.clients) {
                    Ok(emulator) => emulator,
                    Err(e) => {
                        eprintln!("front_door_load: {e}");
                        std::process::exit(1);
                    }
                };
            let r = load(&emulator.front, options.clients, options.seconds);
            let stalled = r.latencies.iter().filter(|l| **l > STALL).count();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{binary} | {round} | {:.0} | {:.2} | {:.2} | {:.0} | {stalled} | {} | {} | {}",
                r.latencies.len() as f64 / r.elapsed.as_secs_f64(),
                ms(percentile(&r.latencies, 0.5)),
                ms(percentile(&r.latencies, 0.99)),
                ms(r.latencies.last().copied().unwrap_or_default()),
                r.idle_clients,
                r.errors,
                r.reconnects,
            );
        }
    }
}
