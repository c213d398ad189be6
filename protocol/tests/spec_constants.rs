//! SPEC.md's limit tables and the code's constants are one set of numbers: another
//! implementation is written from the tables, so a bound changed in one place only is a silent
//! incompatibility (`GRANT_CREDENTIALS_MAX` once said 2048 in SPEC and 1024 in the code).

use std::collections::BTreeMap;

use spaces_protocol::invitation::{Limits, host, wire};
use spaces_protocol::signal::{self, SignalLimits};
use spaces_protocol::{peer, replication};

/// Every `| \`name\` | value | ... |` row of SPEC.md, keyed by (section number, name).
fn spec_rows() -> BTreeMap<(String, String), String> {
    let text = include_str!("../../SPEC.md");
    let mut section = String::new();
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("### ").or_else(|| line.strip_prefix("#### ")) {
            section = h.split_whitespace().next().unwrap_or("").to_string();
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with('`') || !cells[1].ends_with('`') {
            continue;
        }
        let name = cells[1].trim_matches('`').to_string();
        rows.insert((section.clone(), name), cells[2].to_string());
    }
    rows
}

/// A table value as a number: `1 MiB`, `16 KiB`, `64 bytes`, `100 characters`, `50 messages
/// per second`, `2^22`, `60000`.
fn number(value: &str) -> Option<u64> {
    let mut words = value.split_whitespace();
    let first = words.next()?;
    let n = match first.split_once('^') {
        Some((b, e)) => b.parse::<u64>().ok()?.checked_pow(e.parse().ok()?)?,
        None => first.parse::<u64>().ok()?,
    };
    let scale = match words.next() {
        Some("KiB") => 1024,
        Some("MiB") => 1024 * 1024,
        _ => 1,
    };
    Some(n * scale)
}

fn code_values() -> Vec<(&'static str, &'static str, u64)> {
    let limits = Limits::default();
    let signal = SignalLimits::default();
    vec![
        ("4.10", "CREDENTIALS_MAX", spaces_protocol::membership::CREDENTIALS_MAX as u64),
        ("4.10", "PENDING_MAX", spaces_protocol::membership::PENDING_MAX as u64),
        ("4.10", "BASE_LEVELS_MAX", u64::from(spaces_protocol::causal::BASE_LEVELS_MAX)),
        ("4.10", "VERIFY_CACHE_MAX", spaces_protocol::credential::VERIFY_CACHE_MAX as u64),
        ("7.3.5", "FRAME_SIZE_MAX", wire::FRAME_SIZE_MAX as u64),
        ("7.3.5", "GRANT_CREDENTIALS_MAX", wire::GRANT_CREDENTIALS_MAX as u64),
        ("7.3.5", "AUTHORITY_CHAIN_MAX", spaces_protocol::membership::AUTHORITY_CHAIN_MAX as u64),
        ("7.3.5", "PROOF_FEEDS_PER_IDENTITY_MAX", spaces_protocol::proof::PROOF_FEEDS_PER_IDENTITY_MAX as u64),
        ("7.3.5", "PROOF_GUEST_GRANTS_MAX", spaces_protocol::proof::PROOF_GUEST_GRANTS_MAX as u64),
        ("7.3.5", "PROVISIONAL_CARRIERS_MAX", spaces_protocol::proof::PROVISIONAL_CARRIERS_MAX as u64),
        ("7.3.5", "CODE_LENGTH_MAX", spaces_protocol::invitation::code::CODE_LENGTH_MAX as u64),
        ("7.3.5", "PAKE_MESSAGE_LEN", spaces_protocol::invitation::pake::PAKE_MESSAGE_LEN as u64),
        ("7.3.5", "SESSIONS_MAX", host::SESSIONS_MAX as u64),
        ("7.3.5", "USES_MAX", host::USES_MAX as u64),
        ("7.3.5", "CONFIRM_WINDOW_MS", host::CONFIRM_WINDOW_MS),
        ("7.3.5", "POINT_MAX", host::POINT_MAX as u64),
        ("7.6.1", "attempts_max", u64::from(limits.attempts_max)),
        ("7.6.1", "session_idle_ms", limits.session_idle_ms),
        ("7.6.1", "guest_timeout_ms", limits.guest_timeout_ms),
        ("7.6.1", "reconnect_min_ms", limits.reconnect_min_ms),
        ("7.6.1", "reconnect_max_ms", limits.reconnect_max_ms),
        ("8.5", "FRAME_SIZE_MAX", signal::wire::FRAME_SIZE_MAX as u64),
        ("8.5", "PAYLOAD_SIZE_MAX", signal::wire::PAYLOAD_SIZE_MAX as u64),
        ("8.5", "ADDR_SIZE_MAX", signal::wire::ADDR_SIZE_MAX as u64),
        ("8.5", "JOINED_PEERS_MAX", signal::wire::JOINED_PEERS_MAX as u64),
        ("8.5", "clients_max", signal.clients_max as u64),
        ("8.5", "clients_per_source_max", signal.clients_per_source_max as u64),
        ("8.5", "topics_max", signal.topics_max as u64),
        ("8.5", "topics_per_client_max", signal.topics_per_client_max as u64),
        ("8.5", "peers_per_topic_max", signal.peers_per_topic_max as u64),
        ("8.5", "registration_ttl_ms", signal.registration_ttl_ms),
        ("8.5", "violations_max", u64::from(signal.violations_max)),
        ("9.4.4", "CONNECTIONS_MAX", peer::CONNECTIONS_MAX as u64),
        ("9.4.4", "HOSTED_MAX", peer::HOSTED_MAX as u64),
        ("9.4.4", "JOINING_MAX", peer::JOINING_MAX as u64),
        ("9.4.4", "TOPIC_EPOCH_MS", peer::TOPIC_EPOCH_MS),
        ("9.4.4", "SYNC_INTERVAL_MS", peer::SYNC_INTERVAL_MS),
        ("9.4.4", "ANSWER_RESEND_MS", peer::ANSWER_RESEND_MS),
        ("9.4.4", "ANSWER_RESEND_MAX_MS", peer::ANSWER_RESEND_MAX_MS),
        ("9.4.4", "RECONNECT_MS", peer::RECONNECT_MS),
        ("9.4.4", "CONNECT_TIMEOUT_MS", peer::CONNECT_TIMEOUT_MS),
        ("9.4.4", "FIRST_FRAME_TIMEOUT_MS", peer::FIRST_FRAME_TIMEOUT_MS),
        ("9.4.4", "HANDSHAKE_TIMEOUT_MS", peer::HANDSHAKE_TIMEOUT_MS),
        ("9.4.4", "STRANGER_WAIT_MS", peer::STRANGER_WAIT_MS),
        ("9.4.4", "LINK_IDLE_MS", peer::LINK_IDLE_MS),
        ("9.4.4", "INVITATION_IDLE_MS", peer::INVITATION_IDLE_MS),
        ("9.4.4", "LEAVE_HANDOFF_MS", peer::LEAVE_HANDOFF_MS),
        ("9.4.4", "HAVE_FEEDS_MAX", spaces_protocol::swarm::HAVE_FEEDS_MAX as u64),
        ("9.4.4", "ENTRIES_PER_MESSAGE_MAX", spaces_protocol::swarm::ENTRIES_PER_MESSAGE_MAX as u64),
        ("9.4.4", "FORK_WINDOW", spaces_protocol::replication::FORK_WINDOW),
        ("9.4.4", "FORKS_PER_MESSAGE_MAX", spaces_protocol::swarm::FORKS_PER_MESSAGE_MAX as u64),
        ("9.4.4", "CREDENTIALS_PER_MESSAGE_MAX", spaces_protocol::swarm::CREDENTIALS_PER_MESSAGE_MAX as u64),
        ("9.4.4", "BATCH_SIZE_MAX", replication::BATCH_SIZE_MAX as u64),
        ("9.8", "HALO_DEVICES_PER_MESSAGE_MAX", spaces_protocol::swarm::HALO_DEVICES_PER_MESSAGE_MAX as u64),
        ("9.8", "HALO_KEYS_PER_MESSAGE_MAX", spaces_protocol::swarm::HALO_KEYS_PER_MESSAGE_MAX as u64),
        ("9.8", "HALO_DEVICES_MAX", spaces_protocol::client::HALO_DEVICES_MAX as u64),
        ("9.8", "CONTACTS_MAX", spaces_protocol::client::CONTACTS_MAX as u64),
        ("9.8", "SIBLING_FEEDS_PER_DEVICE_MAX", spaces_protocol::client::SIBLING_FEEDS_PER_DEVICE_MAX as u64),
        ("9.8", "SIBLING_JOINS_MAX", peer::SIBLING_JOINS_MAX as u64),
    ]
}

#[test]
fn every_limit_in_spec_equals_the_constant_in_the_code() {
    let rows = spec_rows();
    let mut wrong = Vec::new();
    for (section, name, value) in code_values() {
        let key = (section.to_string(), name.to_string());
        match rows.get(&key).map(|v| (v, number(v))) {
            None => wrong.push(format!("§{section} has no row for `{name}` (the code has {value})")),
            Some((text, parsed)) if parsed != Some(value) => {
                wrong.push(format!("§{section} `{name}`: SPEC says {text}, the code has {value}"))
            }
            Some(_) => {}
        }
    }
    assert!(wrong.is_empty(), "SPEC and code disagree:\n{}", wrong.join("\n"));
}

#[test]
fn the_table_reader_reads_what_it_is_given() {
    // The checker must be able to fail: its parser turns each spelling into its number.
    assert_eq!(number("1 MiB"), Some(1 << 20));
    assert_eq!(number("16 KiB"), Some(16 * 1024));
    assert_eq!(number("2^22"), Some(1 << 22));
    assert_eq!(number("50 messages per second"), Some(50));
    assert_eq!(number("nothing"), None);
    assert!(spec_rows().len() > 30, "the SPEC tables are found");
}
