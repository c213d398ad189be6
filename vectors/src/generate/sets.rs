//! Shared by the replica files (`membership.json`, `items.json`): a set of credentials and
//! entries as an op input, and the rule that every set appears in several orders with one
//! expected output (SPEC.md §0.5: state is a function of the set).

use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::credential::Credential;
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::fixture::SpaceFixture;

use super::valid;
use crate::file::{Test, VectorFile};
use crate::json::{hex, hex_list};

pub fn set_input(fx: &SpaceFixture, creds: &[Credential], entries: &[FeedEntry]) -> Value {
    json!({
        "space": hex(fx.space().0),
        "credentials": hex_list(creds.iter().map(Canonical::to_bytes)),
        "entries": hex_list(entries.iter().map(Canonical::to_bytes)),
    })
}

/// The tests of one op over sets of one space.
pub struct Sets<'a> {
    pub op: &'static str,
    pub fx: &'a SpaceFixture,
    pub tests: Vec<Test>,
}

impl<'a> Sets<'a> {
    pub fn new(op: &'static str, fx: &'a SpaceFixture) -> Self {
        Sets { op, fx, tests: Vec::new() }
    }

    /// Adds the set in the given order, reversed, and rotated by half, asserting that the
    /// three answers agree; returns the answer.
    pub fn case(
        &mut self,
        comment: &str,
        flags: &[&'static str],
        creds: &[Credential],
        entries: &[FeedEntry],
    ) -> Value {
        let (op, fx) = (self.op, self.fx);
        let first = valid(op, &format!("{comment} (causal order)"), flags, set_input(fx, creds, entries));
        let reordered: Vec<&'static str> = flags.iter().copied().chain(["Reordered"]).collect();
        let (mut rc, mut re) = (creds.to_vec(), entries.to_vec());
        rc.reverse();
        re.reverse();
        let reversed = valid(op, &format!("{comment} (reversed)"), &reordered, set_input(fx, &rc, &re));
        let (mut sc, mut se) = (creds.to_vec(), entries.to_vec());
        sc.rotate_left(creds.len() / 2);
        se.rotate_left(entries.len() / 2);
        let rotated = valid(op, &format!("{comment} (rotated by half)"), &reordered, set_input(fx, &sc, &se));
        assert_eq!(first.output, reversed.output, "{comment}: order changed the answer");
        assert_eq!(first.output, rotated.output, "{comment}: order changed the answer");
        let output = first.output.clone();
        self.tests.extend([first, reversed, rotated]);
        output
    }

    pub fn into_file(self, f: &mut VectorFile) {
        f.group(self.op).extend(self.tests);
    }
}
