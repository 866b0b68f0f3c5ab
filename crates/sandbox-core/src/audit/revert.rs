//! `onTaint: revert`: what the run created moves into the run's quarantine
//! directory (`<base>/<run>/<absolute path>`), what it changed moves there
//! too and the snapshot's content and mode are put back. Nothing is deleted:
//! the user can look at what the program planted.

use super::{Audit, AuditFs, AuditReport, Fix, Found, State, TaintFinding, TaintKind, TaintOutcome};

/// `<base>/<run>`: the plan's quarantine base, else
/// `~/.local/state/sandboxctl/quarantine` under the real home.
fn quarantine_dir(audit: &Audit, fs: &dyn AuditFs) -> Option<String> {
    let base = match &audit.spec.quarantine {
        Some(q) => q.trim_end_matches('/').to_string(),
        None => format!("{}/.local/state/sandboxctl/quarantine", fs.real_home()?.trim_end_matches('/')),
    };
    Some(format!("{base}/{}-{}", audit.started / 1_000_000_000, fs.pid()))
}

pub(super) fn revert(audit: &Audit, fs: &dyn AuditFs, mut found: Vec<Found>, report: &mut AuditReport) {
    // Whole repositories move first, so what lies inside one is not handled twice.
    found.sort_by_key(|f| f.kind != TaintKind::Gitlink);
    let qdir = quarantine_dir(audit, fs);
    let mut moved: Vec<(usize, String, String)> = Vec::new();
    for f in found {
        let mut out = TaintFinding {
            kind: f.kind,
            path: audit.abs(f.root, &f.rel),
            change: f.change,
            detail: f.detail.clone(),
            outcome: TaintOutcome::Left,
            quarantined_as: None,
            error: None,
        };
        let inside = moved.iter().find(|(root, rel, _)| *root == f.root && (f.rel == *rel || f.rel.starts_with(&format!("{rel}/"))));
        if let Some((_, rel, dest)) = inside {
            out.outcome = TaintOutcome::Quarantined;
            out.quarantined_as = Some(format!("{dest}{}", &f.rel[rel.len()..]));
            report.findings.push(out);
            continue;
        }
        let (rel, restore) = match &f.fix {
            Fix::None => {
                report.findings.push(out);
                continue;
            }
            Fix::Quarantine(rel) => (rel.clone(), None),
            Fix::Restore(state) => (f.rel.clone(), Some(state)),
        };
        let (Some(q), Some(fd)) = (&qdir, audit.roots[f.root].fd) else {
            out.outcome = TaintOutcome::Failed;
            out.error = Some("no quarantine directory: the home directory is unknown".into());
            report.findings.push(out);
            continue;
        };
        let dest = format!("{q}{}", audit.abs(f.root, &rel));
        if let Err(e) = fs.quarantine(fd, &rel, q, &dest) {
            out.outcome = TaintOutcome::Failed;
            out.error = Some(format!("cannot move {} to {dest}: {e}", audit.abs(f.root, &rel)));
            report.findings.push(out);
            continue;
        }
        report.quarantine = Some(q.clone());
        moved.push((f.root, rel.clone(), dest.clone()));
        out.quarantined_as = Some(if rel == f.rel { dest.clone() } else { format!("{dest} (the repository)") });
        out.outcome = TaintOutcome::Quarantined;
        let put = match restore {
            Some(State::File { meta, content: Some(c) }) => Some(fs.put_file(fd, &rel, c, meta.mode)),
            Some(State::Symlink { target, .. }) => Some(fs.put_symlink(fd, &rel, target)),
            _ => None,
        };
        match put {
            Some(Ok(())) => out.outcome = TaintOutcome::Restored,
            Some(Err(e)) => {
                out.outcome = TaintOutcome::Failed;
                out.error = Some(format!("moved the run's version to {dest} but cannot put the previous one back: {e}"));
            }
            None => {}
        }
        report.findings.push(out);
    }
}
