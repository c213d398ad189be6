//! Results: one `Case` per vector or scenario, a summary table, a JSON report and JUnit XML.
//! Everything is ordered as the cases ran, which is deterministic, so two runs of the same
//! driver give byte-identical reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::wire::Hello;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    /// The answer is the one expected.
    #[serde(rename = "OK")]
    Ok,
    /// An `acceptable` case answered differently from the strict reading (allowed).
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    #[serde(rename = "FAILED")]
    Failed,
    /// The driver does not implement what the case needs.
    #[serde(rename = "UNSUPPORTED")]
    Unsupported,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::NonStrict => "NON-STRICT",
            Status::Failed => "FAILED",
            Status::Unsupported => "UNSUPPORTED",
        }
    }
}

/// One graded case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// `vectors/<file>` or `scenarios`: the row of the summary table.
    pub suite: String,
    /// Unique within the suite: `<op>#<tcId>` or the scenario's name.
    pub name: String,
    pub comment: String,
    pub status: Status,
    /// What the case required, when it did not get it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The exchange that led to a failure (last lines).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub transcript: Vec<String>,
}

impl Case {
    pub fn new(suite: &str, name: &str, comment: &str, status: Status) -> Self {
        Case {
            suite: suite.to_owned(),
            name: name.to_owned(),
            comment: comment.to_owned(),
            status,
            expected: None,
            actual: None,
            transcript: Vec::new(),
        }
    }

    pub fn failed(suite: &str, name: &str, comment: &str, expected: String, actual: String) -> Self {
        Case { expected: Some(expected), actual: Some(actual), ..Case::new(suite, name, comment, Status::Failed) }
    }
}

/// Counts of one summary row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub ok: usize,
    pub non_strict: usize,
    pub failed: usize,
    pub unsupported: usize,
}

impl Counts {
    fn add(&mut self, s: Status) {
        match s {
            Status::Ok => self.ok += 1,
            Status::NonStrict => self.non_strict += 1,
            Status::Failed => self.failed += 1,
            Status::Unsupported => self.unsupported += 1,
        }
    }

    /// OK and NON-STRICT both pass.
    pub fn passed(&self) -> usize {
        self.ok + self.non_strict
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub driver: Option<Hello>,
    pub cases: Vec<Case>,
}

/// Transcript lines kept per failed case: enough to see the last exchange.
pub const TRANSCRIPT_EXCERPT_LINES: usize = 40;

impl Report {
    pub fn total(&self) -> Counts {
        let mut c = Counts::default();
        self.cases.iter().for_each(|case| c.add(case.status));
        c
    }

    /// Per suite, in name order.
    pub fn by_suite(&self) -> BTreeMap<String, Counts> {
        let mut rows: BTreeMap<String, Counts> = BTreeMap::new();
        for case in &self.cases {
            rows.entry(case.suite.clone()).or_default().add(case.status);
        }
        rows
    }

    /// The human report: every case that is not OK with its details, the summary table, and
    /// the last line `N passed, M failed`.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        if let Some(h) = &self.driver {
            let _ = writeln!(out, "driver: {} {} ({} ops)", h.name, h.version, h.ops.len());
        }
        // Without `-v`, UNSUPPORTED cases collapse to one line per suite and op (a scenario is
        // its own op): a driver that lacks one op should not scroll past hundreds of lines.
        let mut unsupported: BTreeMap<(&str, &str), (usize, &str)> = BTreeMap::new();
        for case in self.cases.iter().filter(|c| !verbose && c.status == Status::Unsupported) {
            let op = case.name.split('#').next().unwrap_or(&case.name);
            let row = unsupported.entry((&case.suite, op)).or_insert((0, case.actual.as_deref().unwrap_or("")));
            row.0 += 1;
        }
        for ((suite, op), (n, why)) in &unsupported {
            let cases = if *n == 1 { "1 case".to_owned() } else { format!("{n} cases") };
            let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
            let _ = writeln!(out, "{:<11} {suite} {op}: {cases}{why}", Status::Unsupported.label());
        }
        let listed = |c: &&Case| verbose || !matches!(c.status, Status::Ok | Status::Unsupported);
        for case in self.cases.iter().filter(listed) {
            let _ = writeln!(out, "{:<11} {} {}: {}", case.status.label(), case.suite, case.name, case.comment);
            if let Some(e) = &case.expected {
                let _ = writeln!(out, "    expected: {e}");
            }
            if let Some(a) = &case.actual {
                let _ = writeln!(out, "    actual:   {a}");
            }
            for line in &case.transcript {
                let _ = writeln!(out, "    | {line}");
            }
        }
        out.push_str(&self.table());
        let total = self.total();
        let _ = write!(out, "{} passed, {} failed", total.passed(), total.failed);
        out
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:<36} {:>6} {:>10} {:>6} {:>11}", "suite", "OK", "NON-STRICT", "FAILED", "UNSUPPORTED");
        let mut rows: Vec<(String, Counts)> = self.by_suite().into_iter().collect();
        rows.push(("total".into(), self.total()));
        for (suite, c) in rows {
            let _ = writeln!(out, "{suite:<36} {:>6} {:>10} {:>6} {:>11}", c.ok, c.non_strict, c.failed, c.unsupported);
        }
        out
    }

    pub fn to_json(&self) -> String {
        let total = self.total();
        let summary = json!({
            "suites": self.by_suite(),
            "total": total,
            "passed": total.passed(),
            "failed": total.failed,
        });
        let v = json!({ "driver": self.driver, "summary": summary, "cases": self.cases });
        serde_json::to_string_pretty(&v).expect("reports serialize")
    }

    /// JUnit XML: one testsuite per suite; FAILED is a failure, UNSUPPORTED is skipped.
    pub fn to_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let total = self.total();
        let _ = writeln!(
            out,
            "<testsuites name=\"spaces-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            self.cases.len(),
            total.failed,
            total.unsupported
        );
        for (suite, counts) in self.by_suite() {
            let n = counts.ok + counts.non_strict + counts.failed + counts.unsupported;
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{}\" skipped=\"{}\">",
                xml(&suite),
                counts.failed,
                counts.unsupported
            );
            for case in self.cases.iter().filter(|c| c.suite == suite) {
                junit_case(&mut out, case);
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

fn junit_case(out: &mut String, case: &Case) {
    let _ = write!(out, "    <testcase classname=\"{}\" name=\"{}\"", xml(&case.suite), xml(&case.name));
    match case.status {
        Status::Ok => out.push_str("/>\n"),
        Status::NonStrict => {
            let _ = writeln!(out, "><system-out>NON-STRICT: {}</system-out></testcase>", xml(&case.comment));
        }
        Status::Unsupported => out.push_str("><skipped message=\"UNSUPPORTED\"/></testcase>\n"),
        Status::Failed => {
            let detail = format!(
                "expected: {}\nactual: {}\n{}",
                case.expected.as_deref().unwrap_or("-"),
                case.actual.as_deref().unwrap_or("-"),
                case.transcript.join("\n")
            );
            let _ = writeln!(out, "><failure message=\"{}\">{}</failure></testcase>", xml(&case.comment), xml(&detail));
        }
    }
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn xml(s: &str) -> String {
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
    use super::*;

    #[test]
    fn the_last_line_counts_and_junit_escapes() {
        let mut r = Report::default();
        r.cases.push(Case::new("s", "a", "fine", Status::Ok));
        r.cases.push(Case::new("s", "b", "lenient", Status::NonStrict));
        r.cases.push(Case::failed("s", "c<&>", "bad \"x\"", "e".into(), "a".into()));
        r.cases.push(Case::new("t", "d", "no", Status::Unsupported));
        let text = r.render(false);
        assert_eq!(text.lines().last(), Some("2 passed, 1 failed"));
        let junit = r.to_junit();
        assert!(junit.contains("name=\"c&lt;&amp;&gt;\""));
        assert!(junit.contains("<skipped"));
        assert!(junit.contains("failures=\"1\""));
    }

    #[test]
    fn unsupported_cases_collapse_to_one_line_per_op_unless_verbose() {
        let mut r = Report::default();
        for i in 0..40 {
            r.cases.push(Case::new("vectors/codes.json", &format!("code.encode#{i}"), "x", Status::Unsupported));
        }
        r.cases.push(Case::new("vectors/codes.json", "code.decode#1", "y", Status::Unsupported));
        let text = r.render(false);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("UNSUPPORTED")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines.iter().any(|l| l.contains("code.encode: 40 cases")), "{text}");
        assert_eq!(r.render(true).lines().filter(|l| l.starts_with("UNSUPPORTED")).count(), 41);
    }
}
