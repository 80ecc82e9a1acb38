//! How long each phase of an epoch close or a verification pass took, for the log.

use std::time::{Duration, Instant};

/// The phases ended so far, each with its duration.
#[derive(Debug)]
pub struct PhaseTimes {
    started: Instant,
    phases: Vec<(&'static str, Duration)>,
    last: Duration,
}

impl Default for PhaseTimes {
    fn default() -> Self {
        Self::start()
    }
}

impl PhaseTimes {
    /// Starts timing now.
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
            phases: Vec::new(),
            last: Duration::ZERO,
        }
    }

    /// Ends phase `name`: the time since the previous mark (or the start).
    pub fn mark(&mut self, name: &'static str) {
        let now = self.started.elapsed();
        self.phases.push((name, now.saturating_sub(self.last)));
        self.last = now;
    }
}

impl std::fmt::Display for PhaseTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, time)) in self.phases.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name}={:.3}s", time.as_secs_f64())?;
        }
        Ok(())
    }
}
