//! Running checks: each under `catch_unwind`, failures collected, skips counted, and one summary
//! written straight to the terminal's stderr (past the test harness's capture), so a run that
//! skipped checks says so even when every test passed.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What one suite did.
#[derive(Debug, Default)]
pub(crate) struct Report {
    suite: String,
    passed: usize,
    failed: Vec<String>,
    skipped: Vec<(String, String)>,
}

impl Report {
    pub(crate) fn new(suite: impl Into<String>) -> Self {
        Self {
            suite: suite.into(),
            ..Self::default()
        }
    }

    /// Runs one check; `label` names it in the summary.
    pub(crate) fn run(&mut self, label: &str, check: impl FnOnce()) {
        match catch_unwind(AssertUnwindSafe(check)) {
            Ok(()) => self.passed += 1,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                self.failed.push(format!("{label}: {message}"));
            }
        }
    }

    /// Counts `label` as skipped, because of `reason` (what to install).
    ///
    /// # Panics
    /// Under CI: a check must not be skipped there.
    pub(crate) fn skip(&mut self, label: &str, reason: &str) {
        assert!(!crate::servers::in_ci(), "CI: {label} cannot run: {reason}");
        self.skipped.push((label.to_owned(), reason.to_owned()));
    }

    /// Prints the summary and panics when a check failed.
    pub(crate) fn finish(self) {
        let mut reasons: Vec<&str> = self.skipped.iter().map(|(_, r)| r.as_str()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        let mut line = format!(
            "session-testing: {}: {} checks passed, {} failed",
            self.suite,
            self.passed,
            self.failed.len()
        );
        if !self.skipped.is_empty() {
            line.push_str(&format!(
                ", {} skipped ({})",
                self.skipped.len(),
                reasons.join("; ")
            ));
        }
        let _ = writeln!(std::io::stderr(), "{line}");
        assert!(
            self.failed.is_empty(),
            "{line}:\n  {}",
            self.failed.join("\n  ")
        );
    }
}
