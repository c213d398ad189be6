//! A message sequence chart of a run, as SVG: one lifeline per node, time downwards, an
//! arrow per frame or signaling message, a mark per local event (crash, restart, command).
//! For people who would rather look than read a trace.

use std::fmt::Write as _;

use serde_json::Value;

const COLUMN_PX: u64 = 110;
const ROW_PX: u64 = 14;
/// A chart this long stays viewable; longer runs are cut with a note.
const ROWS_MAX: usize = 4_000;

/// Renders trace lines (JSON, as `Trace` writes them) to an SVG document.
pub fn render(lines: &[String], nodes: usize) -> String {
    let rows: Vec<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).take(ROWS_MAX).collect();
    let width = COLUMN_PX * (nodes as u64 + 1);
    let height = ROW_PX * (rows.len() as u64 + 4);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="10">"#
    );
    let _ = writeln!(
        s,
        r##"<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="3" orient="auto"><path d="M0,0 L7,3 L0,6 z" fill="#555"/></marker></defs>"##
    );
    for n in 0..nodes {
        let x = COLUMN_PX * (n as u64 + 1);
        let _ = writeln!(s, r#"<text x="{x}" y="12" text-anchor="middle">node {n}</text>"#);
        let _ = writeln!(s, r##"<line x1="{x}" y1="18" x2="{x}" y2="{height}" stroke="#ccc"/>"##);
    }
    for (k, r) in rows.iter().enumerate() {
        let y = ROW_PX * (k as u64 + 2);
        let t = r["t"].as_u64().unwrap_or(0);
        let ev = r["ev"].as_str().unwrap_or("");
        let what = r["what"].as_str().unwrap_or("");
        let _ = writeln!(s, r##"<text x="2" y="{y}" fill="#999">{}</text>"##, t);
        let Some(node) = r["node"].as_u64() else {
            let _ = writeln!(s, r##"<text x="{}" y="{y}" fill="#a00">{}</text>"##, COLUMN_PX / 2, escape(ev));
            continue;
        };
        let x = COLUMN_PX * (node + 1);
        let from = what.split_whitespace().find_map(|w| w.strip_prefix("from=")).and_then(|v| v.parse::<u64>().ok());
        match from {
            Some(f) if f as usize <= nodes => {
                let fx = COLUMN_PX * (f + 1);
                let colour = if what.contains("Clean") || !what.contains("Mark") { "#555" } else { "#c00" };
                let _ = writeln!(
                    s,
                    r##"<line x1="{fx}" y1="{}" x2="{x}" y2="{y}" stroke="{colour}" marker-end="url(#a)"/>"##,
                    y - ROW_PX / 2
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    r##"<circle cx="{x}" cy="{}" r="3" fill="#36c"/><text x="{}" y="{y}">{}</text>"##,
                    y - 3,
                    x + 5,
                    escape(&format!("{ev} {what}"))
                );
            }
        }
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

fn escape(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
