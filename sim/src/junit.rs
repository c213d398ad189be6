//! JUnit XML of a run, one testcase per seed, so CI shows which seed failed which invariant
//! and how to replay it without anyone opening a log.

use std::fmt::Write as _;

use crate::Outcome;
use crate::report::{Report, event_line, replay_command};

/// Characters of a failure's one-line message; the body holds the rest.
const MESSAGE_CHARS_MAX: usize = 300;
/// Trace lines in a failure's body: the end of the run, where the violation is.
const EVENTS_SHOWN_MAX: usize = 20;

pub fn render(report: &Report, outcomes: &[Outcome]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = format!(
        "spaces-sim {}{}",
        report.profile.name(),
        report.mutant.as_ref().map(|m| format!(" mutant {m}")).unwrap_or_default()
    );
    let time = seconds(report.wall_ms);
    let _ = writeln!(
        out,
        "<testsuites name=\"spaces-sim\" tests=\"{}\" failures=\"{}\" time=\"{time}\">",
        report.seeds, report.failed
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"0\" time=\"{time}\">",
        xml(&name),
        report.seeds,
        report.failed
    );
    let class = xml(&format!("spaces-sim.{}", report.profile.name()));
    for o in outcomes {
        let _ =
            write!(out, "    <testcase classname=\"{class}\" name=\"seed {}\" time=\"{}\"", o.seed, seconds(o.wall_ms));
        let Some(f) = report.failures.iter().find(|f| f.seed == o.seed) else {
            out.push_str("/>\n");
            continue;
        };
        let message = clip(&format!("{} at {} ms: {}", f.invariant, f.at_ms, f.detail));
        let mut body = format!(
            "{}\nreplay: {}\nlast events:\n",
            f.detail,
            replay_command(o.seed, report.profile, report.mutant.as_deref())
        );
        let skip = f.last_events.len().saturating_sub(EVENTS_SHOWN_MAX);
        for e in &f.last_events[skip..] {
            let _ = writeln!(body, "  {}", event_line(e));
        }
        let _ = writeln!(
            out,
            "><failure type=\"{}\" message=\"{}\">{}</failure></testcase>",
            xml(&f.invariant),
            xml(&message),
            xml(&body)
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MESSAGE_CHARS_MAX {
        return s.to_owned();
    }
    s.chars().take(MESSAGE_CHARS_MAX).chain("…".chars()).collect()
}

/// Escapes for XML attributes and text; drops the control characters XML 1.0 cannot carry.
/// The one escaper of the JUnit files we write (the conformance harness's too).
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn the_escaper_keeps_what_xml_carries_and_drops_what_it_cannot() {
        assert_eq!(xml("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
        assert_eq!(xml("line\r\nnext\tcol\u{1}\u{1f}"), "line\r\nnext\tcol", "XML 1.0 has no U+0001 or U+001F");
    }
}
