//! What the CLI prints: text for people, or one JSON object per line (`--json`) for scripts.
//! Live states go to an indicatif spinner on a terminal and to plain lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// One result line: `text` for people, `json` for scripts.
    pub fn emit(&self, text: impl std::fmt::Display, json: Value) {
        if self.json {
            println!("{json}");
        } else {
            println!("{text}");
        }
    }

    /// A live status display for a long-running command.
    pub fn status(&self) -> Status {
        let spinner = (!self.json && std::io::stdout().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Status { out: *self, spinner }
    }
}

/// The state of something in progress: replaced in place on a terminal, a line each otherwise.
pub struct Status {
    out: Out,
    spinner: Option<ProgressBar>,
}

impl Status {
    pub fn set(&self, text: &str, json: Value) {
        match &self.spinner {
            Some(bar) => bar.set_message(text.to_owned()),
            None => self.out.emit(text, json),
        }
    }

    /// A line that stays (printed above the spinner on a terminal).
    pub fn note(&self, text: &str, json: Value) {
        match &self.spinner {
            Some(bar) => bar.println(text),
            None => self.out.emit(text, json),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.spinner {
            bar.finish_and_clear();
        }
    }
}
