//! A message sequence chart of a run, as SVG: one lifeline per node, labelled by what the node
//! is (an honest device, a blank device waiting to be linked, the adversary's device, the
//! flooder) plus a lane for the network and signaling, time downwards, an arrow per frame with
//! its size and verdict, a mark per local event coloured by kind (commands, events, timers,
//! faults), and the violation, if any, as a red rule with its invariant. For people who would
//! rather look than read a trace.

use std::fmt::Write as _;

use serde_json::Value;

use crate::config::Config;

const COLUMN_PX: u64 = 130;
const ROW_PX: u64 = 14;
/// Room right of the last lifeline for the text of its events, so nothing is clipped.
const TEXT_PX: u64 = 520;
/// Characters of an event's text shown (the trace has the rest).
const TEXT_CHARS_MAX: usize = 80;
/// A chart this long stays viewable; longer runs are cut with a note.
const ROWS_MAX: usize = 4_000;

/// What a failed run's chart marks: the invariant, when, and what it says.
#[derive(Debug, Clone)]
pub struct Mark<'a> {
    pub invariant: &'a str,
    pub at_ms: u64,
    pub detail: &'a str,
}

/// What each node of a world drawn from `cfg` is, in node order (as `World::populate` makes
/// them).
pub fn labels(cfg: &Config) -> Vec<String> {
    let mut out: Vec<String> = (0..cfg.peers)
        .map(|i| if i >= cfg.peers - cfg.blank_devices { format!("blank device {i}") } else { format!("device {i}") })
        .collect();
    if cfg.adversaries.any() {
        out.push(format!("adversary {} (guesser, relay)", cfg.peers));
        out.push(format!("flooder {}", cfg.peers + 1));
    }
    out
}

/// The colour of a local event, by kind.
fn colour(ev: &str, what: &str) -> &'static str {
    match ev {
        "command" => "#1f5fbf",
        "event" if what.contains("failed") || what.contains("refused") => "#c0392b",
        "event" => "#1e8449",
        "crash" | "restart" | "partition" | "partition-heal" | "clock-jump" | "signal-down" | "signal-up" => "#b9770e",
        "timer" => "#888",
        _ => "#555",
    }
}

/// Renders trace lines (JSON, as `Trace` writes them) to an SVG document, one lifeline per
/// label, marking `violation` if the run failed.
pub fn render(lines: &[String], labels: &[String], violation: Option<Mark<'_>>) -> String {
    let rows: Vec<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).take(ROWS_MAX).collect();
    let nodes = labels.len() as u64;
    let lane = |node: u64| COLUMN_PX * (node + 2);
    let width = lane(nodes) + TEXT_PX;
    let height = ROW_PX * (rows.len() as u64 + 6);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="10">"#
    );
    let _ = writeln!(
        s,
        r##"<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto"><path d="M0,0 L7,3 L0,6 z" fill="#555"/></marker><marker id="r" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto"><path d="M0,0 L7,3 L0,6 z" fill="#c00"/></marker></defs>"##
    );
    let _ = writeln!(s, r##"<text x="2" y="12" fill="#999">t (ms)</text>"##);
    let net_x = COLUMN_PX;
    let _ = writeln!(s, r##"<text x="{net_x}" y="12" text-anchor="middle">network, signaling</text>"##);
    let _ = writeln!(s, r##"<line x1="{net_x}" y1="18" x2="{net_x}" y2="{height}" stroke="#eee"/>"##);
    for (n, label) in labels.iter().enumerate() {
        let x = lane(n as u64);
        let _ = writeln!(s, r#"<text x="{x}" y="12" text-anchor="middle">{}</text>"#, escape(label));
        let _ = writeln!(s, r##"<line x1="{x}" y1="18" x2="{x}" y2="{height}" stroke="#ccc"/>"##);
    }
    let mut marked = false;
    for (k, r) in rows.iter().enumerate() {
        let y = ROW_PX * (k as u64 + 2);
        let t = r["t"].as_u64().unwrap_or(0);
        if let Some(v) = violation.as_ref().filter(|v| !marked && t >= v.at_ms) {
            mark(&mut s, v, y - ROW_PX / 2, width);
            marked = true;
        }
        let ev = r["ev"].as_str().unwrap_or("");
        let what = r["what"].as_str().unwrap_or("");
        let _ = writeln!(s, r##"<text x="2" y="{y}" fill="#999">{t}</text>"##);
        let Some(node) = r["node"].as_u64().filter(|n| *n < nodes) else {
            let text = clip(&format!("{ev} {what}"));
            let _ = writeln!(s, r##"<text x="{}" y="{y}" fill="#b9770e">{}</text>"##, net_x + 4, escape(&text));
            continue;
        };
        let x = lane(node);
        let from = what.split_whitespace().find_map(|w| w.strip_prefix("from=")).and_then(|v| v.parse::<u64>().ok());
        match from {
            Some(f) if f < nodes => {
                let fx = lane(f);
                let clean = what.contains("Clean");
                let (stroke, head) = if clean { ("#555", "a") } else { ("#c00", "r") };
                let _ = writeln!(
                    s,
                    r##"<line x1="{fx}" y1="{}" x2="{x}" y2="{y}" stroke="{stroke}" marker-end="url(#{head})"/>"##,
                    y - ROW_PX / 2
                );
                // The frame's size and the receiver's verdict, beside the arrow's head.
                let label: Vec<&str> =
                    what.split_whitespace().filter(|w| w.ends_with('B') || !w.contains('=')).collect();
                let _ = writeln!(
                    s,
                    r##"<text x="{}" y="{}" fill="{stroke}" font-size="8">{}</text>"##,
                    fx.min(x) + 4,
                    y - 2,
                    escape(&label.join(" "))
                );
            }
            _ => {
                let c = colour(ev, what);
                let _ = writeln!(
                    s,
                    r##"<circle cx="{x}" cy="{}" r="3" fill="{c}"/><text x="{}" y="{y}" fill="{c}">{}</text>"##,
                    y - 3,
                    x + 5,
                    escape(&clip(&format!("{ev} {what}")))
                );
            }
        }
    }
    if let Some(v) = violation.as_ref().filter(|_| !marked) {
        mark(&mut s, v, ROW_PX * (rows.len() as u64 + 2), width);
    }
    if lines.len() > ROWS_MAX {
        let _ = writeln!(
            s,
            r#"<text x="4" y="{}">… {} more events in the trace</text>"#,
            height - 4,
            lines.len() - ROWS_MAX
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The violation: a red rule across the chart with its invariant, time and words.
fn mark(s: &mut String, v: &Mark<'_>, y: u64, width: u64) {
    let _ = writeln!(s, r##"<line x1="0" y1="{y}" x2="{width}" y2="{y}" stroke="#c00" stroke-width="2"/>"##);
    let text = clip(&format!("{} violated at {} ms: {}", v.invariant, v.at_ms, v.detail));
    let _ = writeln!(s, r##"<text x="4" y="{}" fill="#c00" font-weight="bold">{}</text>"##, y - 3, escape(&text));
}

fn clip(t: &str) -> String {
    if t.chars().count() <= TEXT_CHARS_MAX {
        return t.to_string();
    }
    let mut out: String = t.chars().take(TEXT_CHARS_MAX - 1).collect();
    out.push('…');
    out
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Profile, draw};

    #[test]
    fn the_chart_names_nodes_marks_the_violation_and_labels_arrows() {
        let cfg = draw(5, Profile::Hostile);
        let labels = labels(&cfg);
        assert_eq!(labels.len(), cfg.peers + 2, "honest devices, the adversary and the flooder");
        let lines = vec![
            r#"{"t":10,"node":0,"ev":"command","what":"invite space=ab auth=pin role=editor uses=1 lifetime=9ms"}"#
                .into(),
            r#"{"t":20,"node":1,"ev":"frame","what":"from=0 conn=3 191B Clean"}"#.into(),
            r#"{"t":30,"node":null,"ev":"partition","what":"isolate 1"}"#.into(),
            r#"{"t":40,"node":1,"ev":"frame","what":"from=0 conn=3 7B Malformed"}"#.into(),
        ];
        let mark = Mark { invariant: "S6", at_ms: 35, detail: "invitation 12 took 4 wrong PINs" };
        let svg = render(&lines, &labels, Some(mark));
        assert!(svg.contains(">device 0<") && svg.contains("adversary") && svg.contains("network, signaling"));
        assert!(svg.contains("S6 violated at 35 ms"), "{svg}");
        assert!(svg.contains("191B Clean") && svg.contains("url(#r)"), "arrows carry size and verdict: {svg}");
        let rule = svg.find("S6 violated").unwrap();
        assert!(
            svg.find("7B Malformed").unwrap() > rule && svg.find("191B").unwrap() < rule,
            "the rule is in time order"
        );
        assert!(svg.contains("#1f5fbf"), "commands have their colour");
    }

    #[test]
    fn long_event_text_is_clipped_not_cut_by_the_chart() {
        let labels = vec!["device 0".to_string()];
        let long = format!(r#"{{"t":1,"node":0,"ev":"event","what":"{}"}}"#, "x".repeat(500));
        let svg = render(&[long], &labels, None);
        assert!(svg.contains('…') && !svg.contains(&"x".repeat(TEXT_CHARS_MAX)));
        let width: u64 = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        assert!(width >= COLUMN_PX * 2 + TEXT_PX, "room for the last lane's text");
    }
}
