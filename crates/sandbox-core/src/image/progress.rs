//! Progress of `image import` and `image pack`: counts kept as the work
//! goes, handed to a sink at most ten times a second and once at the end
//! (the `progress` report line; the CLI draws it on a terminal only).

use super::report::ProgressInfo;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Where progress goes.
pub type Sink = Box<dyn Fn(&ProgressInfo)>;

const EVERY: Duration = Duration::from_millis(100);

/// The counts of one phase, shared by the readers that advance them.
pub struct Meter {
    info: ProgressInfo,
    last: Option<Instant>,
    /// Taken by the next phase (import hands it to pack).
    pub sink: Option<Sink>,
}

/// A meter shared by the parts of one command.
pub type Shared = Rc<RefCell<Meter>>;

impl Meter {
    pub fn new(phase: &str, sink: Option<Sink>) -> Shared {
        Rc::new(RefCell::new(Meter { info: ProgressInfo { phase: phase.into(), ..Default::default() }, last: None, sink }))
    }

    pub fn totals(&mut self, files: Option<u64>, bytes: Option<u64>) {
        self.info.total_files = files;
        self.info.total_bytes = bytes;
    }

    /// Count `files` and `bytes` more; tell the sink when it is time.
    pub fn add(&mut self, files: u64, bytes: u64) {
        self.info.files += files;
        self.info.bytes += bytes;
        if self.sink.is_none() {
            return;
        }
        let now = Instant::now();
        if self.last.is_none_or(|t| now.duration_since(t) >= EVERY) {
            self.last = Some(now);
            self.emit();
        }
    }

    /// The last line, whatever the time.
    pub fn emit(&self) {
        if let Some(sink) = &self.sink {
            sink(&self.info);
        }
    }
}
