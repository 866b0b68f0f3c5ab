//! Stage: before anything is created. Decodes a plan with the JSON path of
//! any bad field, checks the plan's own fields (each op checks its own, in
//! `ops/`; the shared limits and path checks are in `check.rs`), and
//! (preflight) checks that host sources exist. Invariant: a plan that passes here only fails later for
//! reasons of the kernel or of a host that changed underneath.

use crate::check::{check_abs, check_env_name, check_hostname, MAX_ARGS, MAX_AUDIT_ROOTS, MAX_OPS, MAX_STRING};
use crate::error::{Code, PlanError};
use crate::plan::{Op, Plan, PLAN_VERSION};

/// Decode plan JSON; errors name the JSON path.
pub fn decode(json: &[u8]) -> Result<Plan, PlanError> {
    let de = &mut serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = json_path(&e.path().to_string());
        let op_index = op_index_of(&path);
        let reason = e.inner().to_string();
        // serde_json appends " at line L column C": keep it, it helps in files.
        PlanError { path, op_index, kind: None, reason, code: Code::PlanInvalid }
    })
}

/// Decode a JSON array of ops (a plan's `ops`); errors name the JSON path
/// (`plan.ops[3].target`).
pub fn decode_ops(json: &[u8]) -> Result<Vec<Op>, PlanError> {
    let de = &mut serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = match e.path().to_string().as_str() {
            "." | "" => "plan.ops".to_string(),
            p => format!("plan.ops{p}"),
        };
        let op_index = op_index_of(&path);
        PlanError { path, op_index, kind: None, reason: e.inner().to_string(), code: Code::PlanInvalid }
    })
}

/// `ops[3].target` → `plan.ops[3].target`; `.` → `plan`.
fn json_path(p: &str) -> String {
    if p == "." || p.is_empty() {
        "plan".into()
    } else {
        format!("plan.{p}")
    }
}

fn op_index_of(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("plan.ops[")?;
    rest.split(']').next()?.parse().ok()
}

struct Ctx<'a> {
    index: usize,
    op: &'a Op,
}

impl Ctx<'_> {
    fn err(&self, field: &str, reason: impl Into<String>) -> PlanError {
        PlanError {
            path: format!("plan.ops[{}].{field}", self.index),
            op_index: Some(self.index),
            kind: Some(self.op.kind()),
            reason: reason.into(),
            code: Code::PlanInvalid,
        }
    }
}

fn top(field: &str, reason: impl Into<String>) -> PlanError {
    PlanError { path: format!("plan.{field}"), op_index: None, kind: None, reason: reason.into(), code: Code::PlanInvalid }
}

fn check_audit(a: &crate::plan::AuditSpec) -> Result<(), PlanError> {
    if a.roots.is_empty() {
        return Err(top("audit.roots", "audit needs at least one root"));
    }
    if a.roots.len() > MAX_AUDIT_ROOTS {
        return Err(top("audit.roots", format!("more than {MAX_AUDIT_ROOTS} audit roots")));
    }
    for (i, r) in a.roots.iter().enumerate() {
        check_abs(r).map_err(|e| top(&format!("audit.roots[{i}]"), e))?;
        if r == "/" {
            return Err(top(&format!("audit.roots[{i}]"), "the audit cannot walk all of /"));
        }
    }
    if let Some(q) = &a.quarantine {
        check_abs(q).map_err(|e| top("audit.quarantine", e))?;
    }
    Ok(())
}

/// A zygote's plan (live.end `zygote`): each of its sandboxes is set up by
/// a fork of pid 1 alone, so nothing may be used once only (a caller's fd,
/// the launcher's image server, proxy or audit) or be shared by all of them
/// where each had its own (a cgroup's limits, the program's own argv).
fn zygote_plan(plan: &Plan) -> Result<(), PlanError> {
    let why = if !plan.argv.is_empty() {
        Some("has no program of its own: each sandbox's comes with its exec")
    } else if plan.root.is_some() {
        Some("cannot have an image root")
    } else if plan.network.policy().is_some() {
        Some("cannot have an allow-list network")
    } else if plan.limits.is_some() {
        Some("cannot have limits (one cgroup would hold every sandbox)")
    } else if plan.audit.is_some() || plan.report || plan.status_fd.is_some() {
        Some("cannot have an audit, a denial report or a status fd")
    } else if !plan.fds.is_empty() || plan.block_fd.is_some() || plan.userns_block_fd.is_some() {
        Some("cannot take fds from the caller")
    } else if plan.seccomp.preset != crate::plan::SeccompPreset::Strict
        || plan.seccomp.rules.iter().any(|r| ["add_key", "keyctl", "request_key"].contains(&r.syscall.as_str()))
    {
        // The user keyring belongs to the user namespace, which a zygote's
        // sandboxes share: only the strict preset's refusal of the keyring
        // calls keeps one run's keys from the next.
        Some("needs the strict seccomp preset, with no rule for add_key, keyctl or request_key (the sandboxes share one user keyring)")
    } else if plan.ops.iter().any(|op| serde_json::to_value(op).is_ok_and(|v| v.get("sourceFd").is_some_and(|f| !f.is_null()))) {
        // Every op's fd field has this name (bind, file): read once, it could not serve a second sandbox.
        Some("cannot have an op that reads a caller's fd (sourceFd)")
    } else {
        None
    };
    match why {
        Some(why) => Err(top("live.end", format!("a zygote's plan {why}"))),
        None => Ok(()),
    }
}

/// Check every field of a decoded plan.
pub fn validate(plan: &Plan) -> Result<(), PlanError> {
    if plan.version != PLAN_VERSION {
        return Err(top("version", format!("version {} is not supported (expected {PLAN_VERSION})", plan.version)));
    }
    if let Some(live) = &plan.live {
        crate::check::check_sandbox_name(&live.name).map_err(|r| PlanError { code: Code::NameInvalid, ..top("live.name", r) })?;
        if plan.tty {
            return Err(top("tty", "a live sandbox's own program has no terminal: use `sandboxctl exec -it` for one"));
        }
    }
    if let Some(crate::plan::LiveEnd::Group { count, timeout_ms }) = plan.live.as_ref().map(|l| l.end) {
        if count == 0 || timeout_ms == 0 {
            return Err(top("live.end", "a peer group needs a count and a timeout of at least 1"));
        }
        if !plan.argv.is_empty() {
            return Err(top("argv", "a peer group's sandbox has no program of its own: each peer's comes with its exec"));
        }
    }
    if let Some(j) = &plan.join_ns {
        for (name, fd) in [("user", j.user), ("user2", j.user2), ("pid", j.pid)] {
            if fd.is_some_and(|fd| !(0..=1_048_576).contains(&fd)) {
                return Err(top(&format!("joinNs.{name}"), "fd numbers must be between 0 and 1048576"));
            }
        }
        // The launcher enters the namespaces before it clones pid 1: what it
        // still does on the host afterwards (a cgroup, a proxy, a registry
        // entry, an image's server, an audit) needs the host's rights.
        let joins_before_clone = j.user.is_some() || j.pid.is_some();
        if joins_before_clone
            && (plan.live.is_some() || plan.limits.is_some() || plan.root.is_some() || plan.audit.is_some() || plan.network.policy().is_some())
        {
            return Err(top("joinNs", "a sandbox that joins namespaces cannot also be live, have limits, an image root, an audit or an allow-list network"));
        }
        if plan.as_pid1 && j.pid.is_some() {
            return Err(top("asPid1", "the program cannot be pid 1 of a pid namespace it joins (joinNs.pid)"));
        }
    }
    if plan.as_pid1 && (plan.live.is_some() || plan.tty) {
        return Err(top("asPid1", "the program cannot be pid 1 of a live sandbox or with a terminal relayed: pid 1 serves those"));
    }
    if plan.is_zygote() {
        zygote_plan(plan)?;
    }
    let no_program =
        plan.live.as_ref().is_some_and(|l| matches!(l.end, crate::plan::LiveEnd::Stop | crate::plan::LiveEnd::Group { .. } | crate::plan::LiveEnd::Zygote));
    if plan.argv.is_empty() && !no_program {
        return Err(top("argv", "argv is empty: name a program to run"));
    }
    if plan.argv.len() > MAX_ARGS {
        return Err(top("argv", format!("more than {MAX_ARGS} arguments")));
    }
    for (i, a) in plan.argv.iter().enumerate() {
        if a.contains('\0') {
            return Err(top(&format!("argv[{i}]"), "argument contains a NUL byte"));
        }
        if a.len() > MAX_STRING {
            return Err(top(&format!("argv[{i}]"), format!("argument longer than {MAX_STRING} bytes")));
        }
    }
    if plan.argv.first().is_some_and(|a| a.is_empty()) {
        return Err(top("argv[0]", "program name is empty"));
    }
    for (i, k) in plan.env.unset.iter().enumerate() {
        check_env_name(k).map_err(|r| top(&format!("env.unset[{i}]"), r))?;
    }
    for (k, v) in &plan.env.set {
        check_env_name(k).map_err(|r| top(&format!("env.set.{k}"), r))?;
        if v.contains('\0') {
            return Err(top(&format!("env.set.{k}"), "value contains a NUL byte"));
        }
    }
    crate::env::check(&plan.env.steps).map_err(|(field, reason)| top(&field, reason))?;
    // Host rules: the flag or config entry is named by its text (issue 14).
    crate::net::rules::Policy::of(&plan.network).map_err(|(field, reason)| top(&format!("network.{field}"), reason))?;
    if let Some(cwd) = &plan.cwd {
        check_abs(cwd).map_err(|r| top("cwd", r))?;
    }
    if let Some(h) = &plan.hostname {
        if !plan.namespaces.uts {
            return Err(top("hostname", "a hostname needs the uts namespace"));
        }
        check_hostname(h).map_err(|r| top("hostname", r))?;
    }
    // uid/gid 4294967295 is (uid_t)-1: "no change" to the kernel, never a real id.
    if plan.uid == Some(u32::MAX) {
        return Err(top("uid", "uid 4294967295 is reserved"));
    }
    if plan.gid == Some(u32::MAX) {
        return Err(top("gid", "gid 4294967295 is reserved"));
    }
    if plan.linger_ms > 600_000 {
        return Err(top("lingerMs", "lingerMs must be at most 600000"));
    }
    for (field, list) in [("capAdd", &plan.cap_add), ("capDrop", &plan.cap_drop)] {
        for (i, n) in list.iter().enumerate() {
            if crate::caps::parse(n).is_none() {
                return Err(top(&format!("{field}[{i}]"), format!("unknown capability {n:?}")));
            }
        }
    }
    let mut targets = std::collections::BTreeSet::new();
    for (i, f) in plan.fds.iter().enumerate() {
        let target = f.target.unwrap_or(f.fd);
        if f.fd < 0 || !(0..=1 << 20).contains(&target) {
            return Err(top(&format!("fds[{i}]"), "fd numbers must be between 0 and 1048576"));
        }
        if !targets.insert(target) {
            return Err(top(&format!("fds[{i}].target"), format!("fd {target} is passed twice")));
        }
    }
    if let Some(a) = &plan.argv0 {
        if a.contains('\0') {
            return Err(top("argv0", "argv0 contains a NUL byte"));
        }
    }
    if plan.tty && !plan.new_session {
        return Err(top("tty", "a pseudo-terminal gives the program a session of its own: tty cannot go with newSession false"));
    }
    if plan.status_fd.is_some_and(|fd| fd < 0) {
        return Err(top("statusFd", "statusFd must be a descriptor number"));
    }
    if let Some(a) = &plan.audit {
        check_audit(a)?;
    }
    if let Some(r) = &plan.root {
        crate::image::spec::check(r).map_err(|(field, reason)| top(&format!("root.{field}"), reason))?;
    }
    for (kind, n) in ["autoetc", "autoroot"].iter().map(|k| (*k, plan.ops.iter().filter(|o| o.kind() == *k).count())) {
        if n > 1 {
            return Err(top("ops", format!("{kind} is not repeatable ({n} given)")));
        }
    }
    // Custom rules must compile (names known for this architecture, sane
    // conditions); the presets are fixed data, pinned by tests, so a plain
    // preset is not compiled twice on the launch path.
    if !plan.seccomp.rules.is_empty() || !plan.seccomp.stack.is_empty() {
        crate::seccomp::check(&plan.seccomp).map_err(|e| {
            let path = e.path().to_string();
            let full = e.to_string();
            let reason = full.strip_prefix(&format!("{path}: ")).unwrap_or(&full).to_string();
            PlanError { path, op_index: None, kind: None, reason, code: Code::PlanInvalid }
        })?;
    }
    if plan.ops.len() > MAX_OPS {
        return Err(top("ops", format!("{} ops is more than the {MAX_OPS} allowed", plan.ops.len())));
    }
    if let Some(l) = &plan.limits {
        check_limits(l)?;
    }
    for (i, p) in plan.landlock.write.iter().flatten().enumerate() {
        check_abs(p).map_err(|r| top(&format!("landlock.write[{i}]"), r))?;
    }
    for (index, op) in plan.ops.iter().enumerate() {
        crate::ops::validate(op).map_err(|p| Ctx { index, op }.err(p.field, p.reason))?;
    }
    Ok(())
}

/// plan.limits: values the kernel can take.
fn check_limits(l: &crate::plan::Limits) -> Result<(), PlanError> {
    if l.memory.is_some_and(|m| m < 1 << 20) {
        return Err(top("limits.memory", "memory must be at least 1 MiB"));
    }
    if l.pids.is_some_and(|p| p < 2) {
        return Err(top("limits.pids", "pids must be at least 2 (the sandbox's pid 1 and the program)"));
    }
    if l.cpu_millis.is_some_and(|c| !(10..=1_000_000).contains(&c)) {
        return Err(top("limits.cpuMillis", "cpuMillis must be between 10 (0.01 CPU) and 1000000"));
    }
    if l.timeout_ms.is_some_and(|t| t == 0 || t > 1 << 40) {
        return Err(top("limits.timeoutMs", "timeoutMs must be between 1 and 2^40"));
    }
    if l.timeout_grace_ms.is_some_and(|t| t > 1 << 40) {
        return Err(top("limits.timeoutGraceMs", "timeoutGraceMs must be at most 2^40"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in l.rlimits.iter().enumerate() {
        if !seen.insert(r.name.resource()) {
            return Err(top(&format!("limits.rlimits[{i}]"), "this resource is limited twice"));
        }
        if r.soft.unwrap_or(u64::MAX) > r.hard.unwrap_or(u64::MAX) {
            return Err(top(&format!("limits.rlimits[{i}]"), "the soft limit is above the hard limit"));
        }
    }
    Ok(())
}

/// Host-side checks that need the filesystem: every non-optional source
/// exists. Runs before any namespace is created.
pub fn preflight(plan: &Plan) -> Result<(), PlanError> {
    for (index, op) in plan.ops.iter().enumerate() {
        let c = Ctx { index, op };
        let (field, source, optional) = match op {
            // ensure creates the source; a caller fd is checked by the launcher.
            Op::Bind(b) if b.ensure || b.source_fd.is_some() => continue,
            Op::Bind(b) => ("source", b.source.as_str(), b.optional),
            Op::File(f) => match &f.source {
                Some(s) => ("source", s.as_str(), false),
                None => continue,
            },
            _ => continue,
        };
        if optional {
            continue;
        }
        if let Err(e) = std::fs::metadata(source) {
            let mut err = c.err(field, format!("source {source} does not exist"));
            if e.kind() != std::io::ErrorKind::NotFound {
                err.reason = format!("source {source} is not accessible: {}", crate::sys::Errno::from_io(&e));
            }
            err.code = Code::SourceMissing;
            return Err(err);
        }
    }
    // A hard rlimit can only be lowered (pid 1 has no CAP_SYS_RESOURCE in
    // the host's user namespace, even for root): refuse one above ours now.
    for (i, r) in plan.limits.iter().flat_map(|l| l.rlimits.iter()).enumerate() {
        let mut cur = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: a valid resource number and a struct the call fills.
        if unsafe { libc::getrlimit(r.name.resource() as _, &mut cur) } != 0 {
            continue;
        }
        let hard = r.hard.unwrap_or(libc::RLIM_INFINITY);
        if hard > cur.rlim_max {
            let show = |v: u64| if v == libc::RLIM_INFINITY { "unlimited".to_string() } else { v.to_string() };
            return Err(top(
                &format!("limits.rlimits[{i}]"),
                format!("hard limit {} is above the caller's hard limit {}: a hard limit can only be lowered", show(hard), show(cur.rlim_max)),
            ));
        }
    }
    Ok(())
}

/// Decode, validate and preflight in one step (what the addon's `checkPlan` does).
pub fn check(json: &[u8]) -> Result<Plan, PlanError> {
    let plan = decode(json)?;
    validate(&plan)?;
    preflight(&plan)?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> PlanError {
        check(json.as_bytes()).expect_err("plan should be rejected")
    }

    #[test]
    fn join_ns_fds_are_checked_and_refuse_what_needs_the_hosts_rights_after_the_join() {
        let p = check(br#"{"argv":["true"],"joinNs":{"user":11,"user2":13,"pid":12}}"#).unwrap();
        assert_eq!(p.join_ns, Some(crate::plan::JoinNs { user: Some(11), user2: Some(13), pid: Some(12) }));
        for (json, path) in [
            (r#"{"argv":["true"],"joinNs":{"user":-1}}"#, "plan.joinNs.user"),
            (r#"{"argv":["true"],"joinNs":{"pid":2000000}}"#, "plan.joinNs.pid"),
            (r#"{"argv":["true"],"joinNs":{"nope":1}}"#, "plan.joinNs"),
            (r#"{"argv":["true"],"joinNs":{"pid":12},"asPid1":true}"#, "plan.asPid1"),
            (r#"{"argv":["true"],"joinNs":{"user":11},"limits":{"timeoutMs":5}}"#, "plan.joinNs"),
            (r#"{"argv":["true"],"joinNs":{"user":11},"live":{"name":"x"}}"#, "plan.joinNs"),
        ] {
            let e = err(json);
            assert_eq!(e.code, Code::PlanInvalid, "{json}");
            assert!(e.path.starts_with(path), "{json}: {}", e.path);
        }
        // user2 alone is entered by pid 1 itself: nothing of the launcher's changes.
        assert!(check(br#"{"argv":["true"],"joinNs":{"user2":13},"limits":{"timeoutMs":5}}"#).is_ok());
    }

    #[test]
    fn minimal_plan_decodes_with_defaults() {
        let p = check(br#"{"argv":["true"]}"#).unwrap();
        assert!(p.die_with_parent && p.new_session && p.env.inherit);
        assert_eq!(p.linger_ms, crate::plan::DEFAULT_LINGER_MS);
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_path() {
        let e = err(r#"{"argv":["true"],"ops":[{"kind":"proc","target":"/proc"},{"kind":"tmpfs","target":"/tmp","bogus":1}]}"#);
        assert_eq!(e.code, Code::PlanInvalid);
        assert_eq!(e.op_index, Some(1));
        assert!(e.path.starts_with("plan.ops[1]"), "{}", e.path);
        assert!(e.reason.contains("bogus"), "{}", e.reason);
        let e = err(r#"{"argv":["true"],"extra":true}"#);
        assert!(e.reason.contains("extra"));
    }

    #[test]
    fn tty_defaults_off_and_cannot_keep_the_callers_session() {
        assert!(!check(br#"{"argv":["true"]}"#).unwrap().tty);
        assert!(check(br#"{"argv":["true"],"tty":true}"#).unwrap().tty);
        let e = err(r#"{"argv":["true"],"tty":true,"newSession":false}"#);
        assert_eq!(e.code, Code::PlanInvalid);
        assert_eq!(e.path, "plan.tty");
    }

    #[test]
    fn audit_specs_are_checked() {
        let p = check(br#"{"argv":["true"],"audit":{"roots":["/p"]}}"#).unwrap();
        assert_eq!(p.audit.unwrap().on_taint, crate::plan::OnTaint::Revert);
        let p = check(br#"{"argv":["true"],"audit":{"roots":["/p","/q"],"onTaint":"fail","quarantine":"/var/q"}}"#).unwrap();
        assert_eq!(p.audit.unwrap().quarantine.as_deref(), Some("/var/q"));
        for (json, path) in [
            (r#"{"roots":[]}"#, "plan.audit.roots"),
            (r#"{"roots":["rel"]}"#, "plan.audit.roots[0]"),
            (r#"{"roots":["/a","/b/../c"]}"#, "plan.audit.roots[1]"),
            (r#"{"roots":["/"]}"#, "plan.audit.roots[0]"),
            (r#"{"roots":["/a"],"quarantine":"q"}"#, "plan.audit.quarantine"),
            (r#"{"roots":["/a"],"onTaint":"ignore"}"#, "plan.audit.onTaint"),
            (r#"{"roots":["/a"],"other":1}"#, "plan.audit.other"),
        ] {
            let e = err(&format!(r#"{{"argv":["true"],"audit":{json}}}"#));
            assert_eq!((e.code, e.path.as_str()), (Code::PlanInvalid, path), "{json}: {e}");
        }
        let many: Vec<String> = (0..65).map(|i| format!("\"/r{i}\"")).collect();
        let e = err(&format!(r#"{{"argv":["true"],"audit":{{"roots":[{}]}}}}"#, many.join(",")));
        assert_eq!(e.path, "plan.audit.roots");
    }

    #[test]
    fn a_placeholder_base_must_be_above_its_target() {
        let ok = |base: &str| {
            check(format!(r#"{{"argv":["true"],"ops":[{{"kind":"placeholder","target":"/p/sub/.vscode","type":"dir","base":"{base}"}}]}}"#).as_bytes())
        };
        for base in ["/p", "/p/sub", "/"] {
            assert!(ok(base).is_ok(), "{base}");
        }
        for base in ["/p/sub/.vscode", "/q", "/p/su", "p", "/p/../q"] {
            let e = ok(base).expect_err(base);
            assert_eq!((e.code, e.path.as_str()), (Code::PlanInvalid, "plan.ops[0].base"), "{base}");
        }
        let p = check(br#"{"argv":["true"],"ops":[{"kind":"placeholder","target":"/p/.x","type":"link"}]}"#).unwrap();
        assert!(matches!(&p.ops[0], Op::Placeholder(o) if o.kind == crate::plan::PlaceholderType::Link && o.base.is_none()));
    }

    #[test]
    fn an_ops_array_decodes_on_its_own_with_paths() {
        let ops = decode_ops(br#"[{"kind":"proc","target":"/proc"},{"kind":"tmpfs","target":"/t","mode":448}]"#).unwrap();
        assert_eq!(crate::ops::describe(&ops), ["proc on /proc", "tmpfs on /t mode 700"]);
        let e = decode_ops(br#"[{"kind":"proc","target":"/proc"},{"kind":"teleport","target":"/x"}]"#).unwrap_err();
        assert_eq!((e.code, e.op_index), (Code::PlanInvalid, Some(1)));
        assert!(e.path.starts_with("plan.ops[1]"), "{}", e.path);
        assert_eq!(decode_ops(b"{}").unwrap_err().path, "plan.ops");
    }

    #[test]
    fn unknown_kind_is_rejected() {
        let e = err(r#"{"argv":["true"],"ops":[{"kind":"teleport","target":"/x"}]}"#);
        assert_eq!(e.op_index, Some(0));
    }

    #[test]
    fn relative_and_dotdot_targets_are_rejected() {
        let e = err(r#"{"argv":["true"],"ops":[{"kind":"dir","target":"tmp"}]}"#);
        assert_eq!(e.path, "plan.ops[0].target");
        assert_eq!(e.to_string(), "plan.ops[0].target (dir): path tmp is not absolute");
        let e = err(r#"{"argv":["true"],"ops":[{"kind":"dir","target":"/a/../b"}]}"#);
        assert!(e.reason.contains(".."));
        let e = err(r#"{"argv":["true"],"ops":[{"kind":"dir","target":"/a\u0000b"}]}"#);
        assert!(e.reason.contains("NUL"));
    }

    #[test]
    fn missing_source_has_its_own_code() {
        let e = err(r#"{"argv":["true"],"ops":[{"kind":"bind","source":"/nonexistent-sandboxctl","target":"/x"}]}"#);
        assert_eq!(e.code, Code::SourceMissing);
        assert_eq!(e.op_index, Some(0));
        assert_eq!(e.path, "plan.ops[0].source");
        // optional binds skip a missing source
        check(br#"{"argv":["true"],"ops":[{"kind":"bind","source":"/nonexistent-sandboxctl","target":"/x","optional":true}]}"#).unwrap();
        // ensure creates it at setup
        check(br#"{"argv":["true"],"ops":[{"kind":"bind","source":"/nonexistent-sandboxctl","target":"/x","ensure":true}]}"#).unwrap();
    }

    #[test]
    fn a_zygote_plan_has_no_program_and_nothing_a_fork_could_not_set_up_alone() {
        let z = r#""live":{"name":"p","end":{"kind":"zygote"}}"#;
        check(format!(r#"{{"argv":[],{z},"ops":[{{"kind":"bind","source":"/","target":"/"}},{{"kind":"tmpfs","target":"/tmp"}}]}}"#).as_bytes()).unwrap();
        for (extra, why) in [
            (r#""argv":["true"]"#, "no program of its own"),
            (r#""argv":[],"network":{"allow":["example.com"]}"#, "allow-list network"),
            (r#""argv":[],"limits":{"pids":10}"#, "limits"),
            (r#""argv":[],"report":true"#, "denial report"),
            (r#""argv":[],"blockFd":3"#, "fds from the caller"),
            (r#""argv":[],"fds":[{"fd":3}]"#, "fds from the caller"),
            (r#""argv":[],"ops":[{"kind":"bind","sourceFd":3,"target":"/x"}]"#, "sourceFd"),
            (r#""argv":[],"seccomp":{"preset":"none"}"#, "strict seccomp preset"),
            (r#""argv":[],"seccomp":{"rules":[{"syscall":"keyctl","action":"log"}]}"#, "strict seccomp preset"),
        ] {
            let e = err(&format!("{{{extra},{z}}}"));
            assert_eq!((e.path.as_str(), e.code), ("plan.live.end", Code::PlanInvalid), "{extra}: {e}");
            assert!(e.reason.contains(why), "{extra}: {}", e.reason);
        }
    }

    #[test]
    fn a_live_plan_has_a_checked_name_and_may_have_no_program() {
        check(br#"{"argv":[],"live":{"name":"web","end":{"kind":"stop"}}}"#).unwrap();
        check(br#"{"argv":["true"],"live":{"name":"a.b_c-1"}}"#).unwrap();
        // without end=stop the program is required
        assert_eq!(err(r#"{"argv":[],"live":{"name":"web"}}"#).path, "plan.argv");
        for bad in ["", "../x", ".x", "a b", "é"] {
            let e = err(&format!(r#"{{"argv":["true"],"live":{{"name":{bad:?}}}}}"#));
            assert_eq!((e.path.as_str(), e.code), ("plan.live.name", Code::NameInvalid), "{bad:?}");
        }
        assert_eq!(err(r#"{"argv":["sh"],"tty":true,"live":{"name":"web"}}"#).path, "plan.tty");
        assert_eq!(err(r#"{"argv":["true"],"live":{"name":"web","bogus":1}}"#).code, Code::PlanInvalid);
    }

    #[test]
    fn policy_fields_are_checked() {
        assert_eq!(err(r#"{"argv":[]}"#).path, "plan.argv");
        assert_eq!(err(r#"{"argv":["true"],"version":2}"#).path, "plan.version");
        assert_eq!(err(r#"{"argv":["true"],"cwd":"rel"}"#).path, "plan.cwd");
        assert_eq!(err(r#"{"argv":["true"],"hostname":""}"#).path, "plan.hostname");
        assert_eq!(err(r#"{"argv":["true"],"hostname":"h","namespaces":{"uts":false}}"#).path, "plan.hostname");
        let e = err(r#"{"argv":["true"],"hostname":"box\nroot"}"#);
        assert_eq!((e.path.as_str(), e.code), ("plan.hostname", Code::PlanInvalid));
        assert_eq!(err(r#"{"argv":["true"],"uid":4294967295}"#).path, "plan.uid");
        assert_eq!(err(r#"{"argv":["true"],"env":{"set":{"A=B":"c"}}}"#).path, "plan.env.set.A=B");
        assert_eq!(err(r#"{"argv":["true"],"lingerMs":9999999}"#).path, "plan.lingerMs");
        assert_eq!(err(r#"{"argv":["true"],"network":"bridge"}"#).path, "plan.network");
    }

    #[test]
    fn custom_seccomp_rules_are_checked_with_their_path() {
        let e = err(r#"{"argv":["true"],"seccomp":{"rules":[{"syscall":"getcwd","action":{"errno":13}},{"syscall":"no_such_call","action":"kill"}]}}"#);
        assert_eq!(e.path, "plan.seccomp.rules[1].syscall");
        assert_eq!(e.code, Code::PlanInvalid);
        assert!(e.reason.starts_with("unknown syscall \"no_such_call\""), "{}", e.reason);
        check(br#"{"argv":["true"],"seccomp":{"rules":[{"syscall":"getcwd","action":{"errno":13}}]}}"#).unwrap();
    }

    #[test]
    fn too_many_ops_are_rejected() {
        let ops = vec![r#"{"kind":"dir","target":"/d"}"#; MAX_OPS + 1].join(",");
        let e = err(&format!(r#"{{"argv":["true"],"ops":[{ops}]}}"#));
        assert_eq!(e.path, "plan.ops");
    }

    #[test]
    fn modes_are_bounded() {
        let e = err(r#"{"argv":["true"],"ops":[{"kind":"tmpfs","target":"/t","mode":65535}]}"#);
        assert_eq!(e.path, "plan.ops[0].mode");
    }
}
