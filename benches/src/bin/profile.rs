//! Runs complete in-memory invitations in a plain loop, for `valgrind --tool=callgrind` and
//! `perf record` (a criterion binary spends most of its instructions on its own analysis).
//!
//! `cargo run --release -p spaces-benches --bin profile -- [pin|key|floor] [COUNT]`
//!
//! `floor` runs the floor's operations (`floor::FLOOR_COUNTS`) COUNT times instead, so that
//! `callgrind --toggle-collect=spaces_benches::invite::invitation` for `pin` and
//! `--toggle-collect=spaces_benches::floor::once` for `floor` give the floor/flow ratio in
//! instructions, which a loaded machine does not disturb.

use spaces_benches::{floor, invite};
use spaces_protocol::invitation::AuthMethod;

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "pin".into());
    let count: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20);
    if what == "floor" {
        let mut p = floor::Primitives::new();
        let start = std::time::Instant::now();
        for _ in 0..count {
            std::hint::black_box(floor::once(&mut p));
        }
        println!("floor: {count} runs, {:.3} ms each", start.elapsed().as_secs_f64() * 1e3 / count as f64);
        return;
    }
    let mut total = std::time::Duration::ZERO;
    let mut host = std::time::Duration::ZERO;
    for seed in 0..count {
        let mut s = invite::setup(seed);
        let auth = match what.as_str() {
            "pin" => AuthMethod::Pin,
            "key" => AuthMethod::Key,
            other => panic!("unknown flow {other}: pin or key"),
        };
        let t = invite::invitation(&mut s, auth);
        total += t.total;
        host += t.host;
    }
    let n = count as f64;
    println!(
        "{what}: {count} invitations, {:.3} ms each, host side {:.3} ms",
        total.as_secs_f64() * 1e3 / n,
        host.as_secs_f64() * 1e3 / n
    );
}
