//! Results: one `Case` per vector or scenario, a summary table, a JSON report and JUnit XML.
//! Everything is ordered as the cases ran, which is deterministic, so two runs of the same
//! driver give byte-identical reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use spaces_sim::junit::xml;

use crate::diff::{Difference, SHOWN_CHARS_MAX, clip, show};
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// `vectors/<file>` or `scenarios`: the row of the summary table.
    pub suite: String,
    /// Unique within the suite: `<op>#<tcId>` or the scenario's name.
    pub name: String,
    /// A vector's `tcId`, so a report can be joined with the vector file without parsing `name`.
    #[serde(rename = "tcId", default, skip_serializing_if = "Option::is_none")]
    pub tc_id: Option<u64>,
    /// A vector's flags (each explained in its file's `notes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    pub comment: String,
    pub status: Status,
    /// What the case required, as JSON: a vector's `result` and `output`; a scenario's check
    /// as a string. Machine-readable, so a CI tool need not parse prose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// What came back: a vector's reply as the driver sent it (`{"ok": …}`, `{"error": …}`),
    /// or a string when no reply came (a crash, a hang, a line that is not JSON); a
    /// scenario's state as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<Value>,
    /// The first field where a wrong `ok` differs from the vector's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<Difference>,
    /// `expected` and `actual` in words, for the text report (`an error of kind checksum`);
    /// absent when the JSON says it plainly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_text: Option<String>,
    /// The exchange that led to a failure (last lines).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub transcript: Vec<String>,
    /// Wall-clock time the case took, for JUnit only: the JSON report stays byte-identical
    /// from run to run.
    #[serde(skip)]
    pub time: Duration,
}

impl Case {
    pub fn new(suite: &str, name: &str, comment: &str, status: Status) -> Self {
        Case {
            suite: suite.to_owned(),
            name: name.to_owned(),
            tc_id: None,
            flags: Vec::new(),
            comment: comment.to_owned(),
            status,
            expected: None,
            actual: None,
            difference: None,
            expected_text: None,
            actual_text: None,
            transcript: Vec::new(),
            time: Duration::ZERO,
        }
    }

    /// A failure described in words (scenarios, broken drivers).
    pub fn failed(suite: &str, name: &str, comment: &str, expected: String, actual: String) -> Self {
        Case {
            expected: Some(Value::String(expected)),
            actual: Some(Value::String(actual)),
            ..Case::new(suite, name, comment, Status::Failed)
        }
    }

    /// The expected side for the text report: the words if any, else the JSON, clipped.
    pub fn expected_line(&self) -> Option<String> {
        let text = self.expected_text.as_deref().map(|t| clip(t, SHOWN_CHARS_MAX));
        text.or_else(|| self.expected.as_ref().map(value_line))
    }

    pub fn actual_line(&self) -> Option<String> {
        let text = self.actual_text.as_deref().map(|t| clip(t, SHOWN_CHARS_MAX));
        text.or_else(|| self.actual.as_ref().map(value_line))
    }

    /// The comment with the flags, as the text report and JUnit show it.
    pub fn title(&self) -> String {
        if self.flags.is_empty() {
            self.comment.clone()
        } else {
            format!("{} [{}]", self.comment, self.flags.join(", "))
        }
    }
}

/// A string as itself, anything else as compact JSON; clipped either way.
fn value_line(v: &Value) -> String {
    match v {
        Value::String(s) => clip(s, SHOWN_CHARS_MAX * 4),
        other => show(other),
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

    /// Why the run does not cover what CI asked for: a required op or scenario with a case
    /// not graded (UNSUPPORTED) or no case at all, and, when `no_unsupported`, any UNSUPPORTED
    /// case. Empty when covered.
    pub fn coverage_gaps(&self, required: &[String], no_unsupported: bool) -> Vec<String> {
        let op_of = |c: &Case| c.name.split('#').next().unwrap_or(&c.name).to_owned();
        let mut gaps = Vec::new();
        for op in required {
            let cases: Vec<&Case> = self.cases.iter().filter(|c| &op_of(c) == op).collect();
            let unsupported = cases.iter().filter(|c| c.status == Status::Unsupported).count();
            if cases.is_empty() {
                gaps.push(format!("required {op}: no case of it ran"));
            } else if unsupported > 0 {
                gaps.push(format!("required {op}: {unsupported} of {} cases UNSUPPORTED", cases.len()));
            }
        }
        let unsupported = self.total().unsupported;
        if no_unsupported && unsupported > 0 {
            gaps.push(format!("--fail-on-unsupported: {unsupported} cases UNSUPPORTED"));
        }
        gaps
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
            let why = case.actual.as_ref().and_then(Value::as_str).unwrap_or("");
            let row = unsupported.entry((&case.suite, op)).or_insert((0, why));
            row.0 += 1;
        }
        for ((suite, op), (n, why)) in &unsupported {
            let cases = if *n == 1 { "1 case".to_owned() } else { format!("{n} cases") };
            let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
            let _ = writeln!(out, "{:<11} {suite} {op}: {cases}{why}", Status::Unsupported.label());
        }
        let listed = |c: &&Case| verbose || !matches!(c.status, Status::Ok | Status::Unsupported);
        for case in self.cases.iter().filter(listed) {
            let _ = writeln!(out, "{:<11} {} {}: {}", case.status.label(), case.suite, case.name, case.title());
            if let Some(d) = &case.difference {
                let _ = writeln!(out, "    differs:  {}", d.describe());
            }
            if let Some(e) = case.expected_line() {
                let _ = writeln!(out, "    expected: {e}");
            }
            if let Some(a) = case.actual_line() {
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

    /// JUnit XML: one testsuite per suite; FAILED is a failure, UNSUPPORTED is skipped. Every
    /// element has a `time` (seconds, wall clock), which CI dashboards chart.
    pub fn to_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let total = self.total();
        let all: Duration = self.cases.iter().map(|c| c.time).sum();
        let _ = writeln!(
            out,
            "<testsuites name=\"spaces-conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">",
            self.cases.len(),
            total.failed,
            total.unsupported,
            seconds(all)
        );
        for (suite, counts) in self.by_suite() {
            let n = counts.ok + counts.non_strict + counts.failed + counts.unsupported;
            let cases: Vec<&Case> = self.cases.iter().filter(|c| c.suite == suite).collect();
            let time: Duration = cases.iter().map(|c| c.time).sum();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">",
                xml(&suite),
                counts.failed,
                counts.unsupported,
                seconds(time)
            );
            for case in cases {
                junit_case(&mut out, case);
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// JUnit's `time`: seconds with millisecond precision.
fn seconds(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

fn junit_case(out: &mut String, case: &Case) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        xml(&case.suite),
        xml(&case.name),
        seconds(case.time)
    );
    match case.status {
        Status::Ok => out.push_str("/>\n"),
        Status::NonStrict => {
            let _ = writeln!(out, "><system-out>NON-STRICT: {}</system-out></testcase>", xml(&case.title()));
        }
        Status::Unsupported => {
            let why = case.actual_line().unwrap_or_else(|| "UNSUPPORTED".into());
            let _ = writeln!(out, "><skipped message=\"{}\"/></testcase>", xml(&why));
        }
        Status::Failed => {
            // The message is what a CI page shows in one line: the difference, or the expectation.
            let message = match &case.difference {
                Some(d) => d.describe(),
                None => format!("expected {}", case.expected_line().unwrap_or_else(|| "-".into())),
            };
            let detail = format!(
                "{}\nexpected: {}\nactual: {}\n{}",
                case.title(),
                case.expected_line().unwrap_or_else(|| "-".into()),
                case.actual_line().unwrap_or_else(|| "-".into()),
                case.transcript.join("\n")
            );
            let _ = writeln!(out, "><failure message=\"{}\">{}</failure></testcase>", xml(&message), xml(&detail));
        }
    }
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
