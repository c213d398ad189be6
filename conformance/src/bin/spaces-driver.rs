//! The reference driver: the driver protocol of `conformance/DRIVER.md` over our protocol
//! crate. One request per stdin line, one reply per stdout line; exits at end of input.

use std::io::{BufRead, Write};

use clap::Parser;
use spaces_conformance::reference::ReferenceDriver;

#[derive(Parser)]
#[command(name = "spaces-driver", about = "Reference driver for spaces-conformance (JSON lines on stdin/stdout)")]
struct Args {
    /// Plant one catalogued bug (protocol/src/mutants.rs), to show the harness catches it.
    /// Needs the `mutants` feature.
    #[arg(long)]
    mutant: Option<String>,
}

fn main() {
    let args = Args::parse();
    if let Some(name) = &args.mutant {
        plant(name);
    }
    let mut driver = ReferenceDriver::default();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let reply = driver.handle_line(&line);
        if writeln!(stdout, "{reply}").and_then(|_| stdout.flush()).is_err() {
            break;
        }
    }
}

#[cfg(feature = "mutants")]
fn plant(name: &str) {
    use spaces_protocol::mutants::{Mutant, set};
    let Some(m) = Mutant::from_name(name) else {
        let names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        eprintln!("unknown mutant {name}; one of: {}", names.join(", "));
        std::process::exit(2);
    };
    // Mutants are per thread; this driver serves every request on the main thread.
    set(Some(m));
}

#[cfg(not(feature = "mutants"))]
fn plant(name: &str) {
    eprintln!("--mutant {name}: this spaces-driver was built without the `mutants` feature");
    std::process::exit(2);
}
