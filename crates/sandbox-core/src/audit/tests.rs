//! The audit through its double: every route of issue 8 as the sandbox
//! would leave it, and every branch of acting on it.

use super::memfs::MemFs;
use super::*;
use crate::sys::Errno;

const Q: &str = "/home/u/.local/state/sandboxctl/quarantine/1010-42";

fn spec(on_taint: OnTaint) -> AuditSpec {
    AuditSpec { roots: vec!["/p".into()], on_taint, quarantine: None }
}

/// A repository as `git init` + a commit leave it.
fn repo(fs: &MemFs, dir: &str) {
    fs.file(&format!("{dir}/.git/HEAD"), "ref: refs/heads/main\n")
        .file(&format!("{dir}/.git/config"), "[core]\n\trepositoryformatversion = 0\n\tbare = false\n")
        .file(&format!("{dir}/.git/hooks/pre-commit.sample"), "#!/bin/sh\n")
        .file(&format!("{dir}/.git/info/exclude"), "# git ls-files\n")
        .dir(&format!("{dir}/.git/objects/ab"))
        .dir(&format!("{dir}/.git/refs/heads"));
}

fn audit_with(fs: &MemFs, spec: &AuditSpec, limits: Limits, run: impl FnOnce(&MemFs)) -> AuditReport {
    // What the project holds was written a while before the run.
    fs.tick();
    let a = Audit::snapshot(fs, spec, limits).unwrap();
    fs.tick();
    run(fs);
    a.check(fs, 3)
}

fn audit(fs: &MemFs, on_taint: OnTaint, run: impl FnOnce(&MemFs)) -> AuditReport {
    audit_with(fs, &spec(on_taint), Limits::default(), run)
}

/// (kind, path, change, outcome) of each finding.
fn summary(r: &AuditReport) -> Vec<(TaintKind, &str, TaintChange, TaintOutcome)> {
    r.findings.iter().map(|f| (f.kind, f.path.as_str(), f.change, f.outcome)).collect()
}

use TaintChange::*;
use TaintKind::*;
use TaintOutcome::*;

#[test]
fn normal_git_work_is_no_finding() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.git/config", "[core]\n\trepositoryformatversion = 0\n\tbare = false\n[user]\n\tname = me\n[branch \"x\"]\n\tremote = origin\n")
            .file("/p/.git/index", "junk")
            .file("/p/.git/refs/heads/x", "abc\n")
            .file("/p/.git/info/exclude", "*.o\n")
            .file("/p/.git/info/attributes", "*.pdf diff=pdf\n")
            .file("/p/src/main.rs", "fn main() {}\n");
        // `git init sub` and a commit there.
        repo(fs, "/p/sub");
        // `git worktree add ../wt`: the repository's side.
        fs.file("/p/.git/worktrees/wt/HEAD", "abc\n").file("/p/.git/worktrees/wt/commondir", "../..\n").file("/p/.git/worktrees/wt/gitdir", "/p/wt/.git\n");
        fs.file("/p/wt/.git", "gitdir: /p/.git/worktrees/wt\n");
    });
    assert_eq!(summary(&r), []);
    assert_eq!(r.status, 3);
    assert_eq!(r.quarantine, None);
    assert!(!tainted(&r));
    assert!(fs.log.borrow().is_empty());
}

#[test]
fn planted_commondir_is_moved_to_the_quarantine() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.git/commondir", "../evil\n").file("/p/evil/config", "[core]\nfsmonitor = touch /tmp/x\n").file("/p/evil/hooks/pre-commit", "x");
    });
    assert_eq!(summary(&r), [(GitRedirect, "/p/.git/commondir", Created, Quarantined)]);
    assert_eq!(r.findings[0].detail, "commondir -> ../evil");
    assert_eq!(r.findings[0].quarantined_as.as_deref(), Some(&*format!("{Q}/p/.git/commondir")));
    assert_eq!(r.quarantine.as_deref(), Some(Q));
    assert_eq!(fs.get("/p/.git/commondir"), None);
    assert_eq!(fs.text(&format!("{Q}/p/.git/commondir")).as_deref(), Some("../evil\n"));
    // The quarantine is closed to others.
    assert_eq!(fs.get(Q).unwrap().mode, 0o700);
}

#[test]
fn a_changed_config_is_put_back_with_its_mode() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file_mode("/p/.git/config", b"[core]\n\tbare = false\n", 0o640);
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.git/config", "[core]\n\tbare = false\n[Core]\n\tFSMonitor = \"touch /tmp/x\"\n[diff \"a\"]\ntextconv = t\n");
    });
    assert_eq!(summary(&r), [(GitConfig, "/p/.git/config", Changed, Restored)]);
    assert_eq!(r.findings[0].detail, "core.fsmonitor = touch /tmp/x; diff.a.textconv = t");
    assert_eq!(fs.text("/p/.git/config").as_deref(), Some("[core]\n\tbare = false\n"));
    assert_eq!(fs.get("/p/.git/config").unwrap().mode, 0o640);
    assert!(fs.text(&format!("{Q}/p/.git/config")).unwrap().contains("FSMonitor"));
    assert_eq!(*fs.log.borrow(), [format!("quarantine /p/.git/config -> {Q}/p/.git/config"), "put_file /p/.git/config 640".to_string()]);
}

#[test]
fn keys_the_config_already_had_are_not_findings() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file("/p/.git/config", "[core]\n\thooksPath = .githooks\n[alias]\n\tx = !echo\n");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.git/config", "[alias]\n\tx = !echo\n[core]\n\thooksPath = .githooks\n[user]\n\temail = a@b\n");
    });
    assert_eq!(summary(&r), []);
}

#[test]
fn an_unparseable_config_is_a_finding() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.git/config", "[core\nfsmonitor = x");
    });
    assert_eq!(summary(&r), [(GitConfig, "/p/.git/config", Changed, Restored)]);
    assert!(r.findings[0].detail.starts_with("bad config line"));
}

#[test]
fn new_hooks_are_findings_samples_are_not() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file("/p/.git/hooks/pre-push", "#!/bin/sh\nold\n");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.git/hooks/pre-commit", "#!/bin/sh\ntouch /tmp/x\n")
            .file("/p/.git/hooks/post-checkout.sample", "x")
            .file("/p/.git/hooks/pre-push", "#!/bin/sh\nnew\n")
            .symlink("/p/.git/hooks/post-merge", "/usr/bin/evil");
    });
    assert_eq!(
        summary(&r),
        [
            (GitHook, "/p/.git/hooks/post-merge", Created, Quarantined),
            (GitHook, "/p/.git/hooks/pre-commit", Created, Quarantined),
            (GitHook, "/p/.git/hooks/pre-push", Changed, Restored),
        ]
    );
    assert_eq!(fs.text("/p/.git/hooks/pre-push").as_deref(), Some("#!/bin/sh\nold\n"));
    assert!(fs.get("/p/.git/hooks/post-checkout.sample").is_some());
}

#[test]
fn the_hooks_path_directory_is_audited() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file("/p/.git/config", "[core]\n\thooksPath = tools/hooks\n").file("/p/tools/hooks/pre-commit", "ok\n");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/tools/hooks/pre-commit", "evil\n").file("/p/tools/hooks/post-commit", "evil\n").file("/p/tools/other.sh", "not a hook\n");
    });
    assert_eq!(summary(&r), [(GitHook, "/p/tools/hooks/post-commit", Created, Quarantined), (GitHook, "/p/tools/hooks/pre-commit", Changed, Restored)]);
    assert_eq!(fs.text("/p/tools/hooks/pre-commit").as_deref(), Some("ok\n"));
}

#[test]
fn an_absolute_hooks_path_under_the_root_and_a_hooks_symlink() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file("/p/.git/config", "[core]\n\thooksPath = /p/tools/hooks\n").dir("/p/tools/hooks");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/tools/hooks/pre-commit", "evil\n");
        repo(fs, "/p/sub");
        fs.remove("/p/sub/.git/hooks").symlink("/p/sub/.git/hooks", "../../evil").file("/p/evil/pre-commit", "x");
    });
    assert_eq!(summary(&r), [(GitHook, "/p/sub/.git/hooks", Created, Quarantined), (GitHook, "/p/tools/hooks/pre-commit", Created, Quarantined)]);
}

#[test]
fn new_empty_tool_files_and_hooks_are_no_finding() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file("/p/.vscode/settings.json", "{}");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        // Another run's stand-ins, and empty files of this one.
        fs.file("/p/.mcp.json", "").file("/p/sandboxctl.json", "").file("/p/.git/hooks/pre-commit", "");
        // Emptied is still changed; an empty .git file or commondir still counts.
        fs.file("/p/.vscode/settings.json", "").file("/p/sub/.git", "").file("/p/.git/commondir", "");
    });
    assert_eq!(
        summary(&r),
        [
            (GitRedirect, "/p/.git/commondir", Created, Quarantined),
            (ToolFile, "/p/.vscode/settings.json", Changed, Restored),
            (GitFile, "/p/sub/.git", Created, Quarantined)
        ]
    );
}

#[test]
fn husky_files_are_tool_files() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file("/p/.git/config", "[core]\n\thooksPath = .husky/_\n").file("/p/.husky/_/h", "sourced\n");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.husky/pre-commit", "touch /tmp/x\n");
    });
    assert_eq!(summary(&r), [(ToolFile, "/p/.husky/pre-commit", Created, Quarantined)]);
}

#[test]
fn a_project_turned_into_a_bare_repository_in_place() {
    let fs = MemFs::new();
    fs.file("/p/README", "hi\n");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/HEAD", "ref: refs/heads/main\n")
            .dir("/p/objects")
            .dir("/p/refs")
            .file("/p/config", "[core]\n\tbare = false\n\tworktree = /p\n\tfsmonitor = touch /tmp/x\n");
    });
    assert_eq!(summary(&r), [(GitConfig, "/p/config", Created, Quarantined)]);
    assert_eq!(r.findings[0].detail, "core.worktree = /p; core.fsmonitor = touch /tmp/x");
    assert_eq!(fs.get("/p/config"), None);
}

#[test]
fn an_old_file_that_only_now_sits_in_a_git_directory_is_not_moved() {
    let fs = MemFs::new();
    fs.file("/p/config", "[core]\n\teditor = vi\n");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/HEAD", "x\n").dir("/p/objects").dir("/p/refs");
    });
    assert_eq!(summary(&r), []);
    assert!(fs.get("/p/config").is_some());
}

#[test]
fn git_init_then_a_hostile_config() {
    let fs = MemFs::new();
    fs.file("/p/a.txt", "a\n");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        repo(fs, "/p");
        fs.file("/p/.git/config", "[core]\n\tbare = false\n\tpager = touch /tmp/x\n");
    });
    assert_eq!(summary(&r), [(GitConfig, "/p/.git/config", Created, Quarantined)]);
    // The repository itself stays.
    assert!(fs.get("/p/.git/HEAD").is_some());
}

#[test]
fn worktree_and_submodule_directories() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.git/worktrees/x/HEAD", "a\n")
            .file("/p/.git/worktrees/x/commondir", "/elsewhere\n")
            .file("/p/.git/worktrees/x/config.worktree", "[core]\nfsmonitor = x\n");
        fs.file("/p/.git/modules/a/b/HEAD", "a\n").dir("/p/.git/modules/a/b/objects").dir("/p/.git/modules/a/b/refs");
        fs.file("/p/.git/modules/a/b/config", "[core]\nsshCommand = x\n").file("/p/.git/modules/a/b/hooks/post-checkout", "x");
        fs.file("/p/.git/config.worktree", "[includeIf \"gitdir:/\"]\npath = /tmp/c\n");
    });
    assert_eq!(
        summary(&r),
        [
            (GitConfig, "/p/.git/config.worktree", Created, Quarantined),
            (GitConfig, "/p/.git/modules/a/b/config", Created, Quarantined),
            (GitHook, "/p/.git/modules/a/b/hooks/post-checkout", Created, Quarantined),
            (GitRedirect, "/p/.git/worktrees/x/commondir", Created, Quarantined),
            (GitConfig, "/p/.git/worktrees/x/config.worktree", Created, Quarantined),
        ]
    );
}

#[test]
fn a_gitlink_to_a_new_repository_moves_that_repository() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file_mode("/p/.git/index", &index::tests::build(2, 20, &[(0o100644, "a")], false), 0o644);
    let r = audit(&fs, OnTaint::Revert, |fs| {
        repo(fs, "/p/nested");
        fs.file("/p/nested/.git/config", "[core]\nfsmonitor = touch /tmp/x\n");
        fs.file_mode("/p/.git/index", &index::tests::build(4, 20, &[(0o100644, "a"), (0o160000, "nested")], false), 0o644);
    });
    assert_eq!(summary(&r), [(Gitlink, "/p/.git/index", Created, Quarantined), (GitConfig, "/p/nested/.git/config", Created, Quarantined)]);
    assert_eq!(r.findings[0].quarantined_as.as_deref(), Some(&*format!("{Q}/p/nested/.git (the repository)")));
    assert_eq!(r.findings[1].quarantined_as.as_deref(), Some(&*format!("{Q}/p/nested/.git/config")));
    assert_eq!(fs.get("/p/nested/.git"), None);
    assert_eq!(*fs.log.borrow(), [format!("quarantine /p/nested/.git -> {Q}/p/nested/.git")]);
}

#[test]
fn a_gitlink_to_a_repository_that_was_there_stays() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    repo(&fs, "/p/lib");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file_mode("/p/.git/index", &index::tests::build(3, 20, &[(0o160000, "lib"), (0o160000, "empty")], true), 0o644);
    });
    assert_eq!(summary(&r), [(Gitlink, "/p/.git/index", Created, Left)]);
    assert!(fs.get("/p/lib/.git/HEAD").is_some());
}

#[test]
fn an_unchanged_index_is_not_read_again() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file_mode("/p/.git/index", &index::tests::build(2, 20, &[(0o160000, "x")], false), 0o644);
    let r = audit(&fs, OnTaint::Revert, |_| {});
    assert_eq!(summary(&r), []);
    assert_eq!(fs.reads.borrow().iter().filter(|p| p.ends_with("/index")).count(), 1);
}

#[test]
fn sha256_indexes_and_split_indexes() {
    let fs = MemFs::new();
    repo(&fs, "/p");
    fs.file("/p/.git/config", "[extensions]\n\tobjectFormat = sha256\n");
    let r = audit(&fs, OnTaint::Warn, |fs| {
        repo(fs, "/p/a");
        repo(fs, "/p/b");
        fs.file_mode("/p/.git/index", &index::tests::build(2, 32, &[(0o160000, "a")], false), 0o644);
        fs.file_mode("/p/.git/sharedindex.0123", &index::tests::build(2, 32, &[(0o160000, "b")], false), 0o644);
    });
    assert_eq!(summary(&r), [(Gitlink, "/p/.git/index", Created, Left), (Gitlink, "/p/.git/index", Created, Left)]);
    assert!(r.findings[1].detail.contains("repository /p/b/.git"));
}

#[test]
fn git_files_pointing_out_of_the_roots() {
    let fs = MemFs::new();
    repo(&fs, "/p/inside");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/a/.git", "gitdir: /srv/evil\n")
            .file("/p/b/.git", "gitdir: ../inside/.git\n")
            .file("/p/c/.git", "nonsense")
            .symlink("/p/d/.git", "/srv/evil");
        fs.file("/p/e/.git", "gitdir: ../../srv\n");
    });
    assert_eq!(
        summary(&r),
        [
            (GitFile, "/p/a/.git", Created, Quarantined),
            (GitFile, "/p/c/.git", Created, Quarantined),
            (GitFile, "/p/d/.git", Created, Quarantined),
            (GitFile, "/p/e/.git", Created, Quarantined),
        ]
    );
    assert_eq!(r.findings[2].detail, "symlink to /srv/evil");
}

#[test]
fn agent_tool_files_anywhere() {
    let fs = MemFs::new();
    fs.file("/p/.claude/settings.json", "{}\n").symlink("/p/.idea", "tools/idea").file("/p/tools/idea/x.xml", "a");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.vscode/tasks.json", "{}").file("/p/.claude/settings.json", "{\"hooks\":1}\n").file("/p/.mcp.json", "{}");
        fs.file("/p/sub/deep/sandboxctl.json", "{}").file("/p/pkg/.envrc", "x").file("/p/sub/.vscode/settings.json", "{}");
        fs.symlink("/p/.idea", "/elsewhere").file("/p/notes.md", "x").file("/p/.vscode/.keep", "");
    });
    assert_eq!(
        summary(&r),
        [
            (ToolFile, "/p/.claude/settings.json", Changed, Restored),
            (ToolFile, "/p/.idea", Changed, Restored),
            (ToolFile, "/p/.mcp.json", Created, Quarantined),
            (ToolFile, "/p/.vscode/tasks.json", Created, Quarantined),
            (ToolFile, "/p/pkg/.envrc", Created, Quarantined),
            (ToolFile, "/p/sub/.vscode/settings.json", Created, Quarantined),
            (ToolFile, "/p/sub/deep/sandboxctl.json", Created, Quarantined),
        ]
    );
    assert_eq!(fs.get("/p/.idea").unwrap().body, memfs::Body::Symlink("tools/idea".into()));
    assert_eq!(fs.text("/p/.claude/settings.json").as_deref(), Some("{}\n"));
}

#[test]
fn symlinks_and_other_devices_are_not_entered() {
    let fs = MemFs::new();
    fs.dir("/p").dir("/mnt");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.symlink("/p/link", "/elsewhere").file("/elsewhere/.vscode/tasks.json", "{}");
        fs.dir("/p/mnt").set_dev("/p/mnt", 9).file("/p/mnt/.vscode/tasks.json", "{}");
        fs.fifo("/p/fifo");
    });
    assert_eq!(summary(&r), []);
}

#[test]
fn past_the_entry_cap_the_audit_says_it_is_incomplete() {
    let fs = MemFs::new();
    for i in 0..50 {
        fs.file(&format!("/p/node_modules/m{i}/index.js"), "x");
    }
    let limits = Limits { entries: 40, ..Limits::default() };
    let r = audit_with(&fs, &spec(OnTaint::Revert), limits.clone(), |_| {});
    assert_eq!(summary(&r), [(Incomplete, "/p", Unknown, Left)]);
    assert!(r.findings[0].detail.contains("more than 40 entries"));
    assert!(!tainted(&r));
    let r = audit_with(&fs, &spec(OnTaint::Fail), limits, |_| {});
    assert!(tainted(&r));
}

#[test]
fn large_files_are_compared_by_inode_size_and_ctime() {
    let fs = MemFs::new();
    fs.file("/p/.vscode/big.json", &"x".repeat(100));
    fs.file("/p/.vscode/same.json", &"y".repeat(100));
    let limits = Limits { file_bytes: 10, ..Limits::default() };
    let r = audit_with(&fs, &spec(OnTaint::Revert), limits, |fs| {
        fs.file("/p/.vscode/big.json", &"z".repeat(100));
    });
    assert_eq!(summary(&r), [(ToolFile, "/p/.vscode/big.json", Changed, Quarantined)]);
    assert!(r.findings[0].detail.ends_with("(the previous content was too large to keep)"));
}

#[test]
fn fail_and_warn_leave_everything() {
    for mode in [OnTaint::Fail, OnTaint::Warn] {
        let fs = MemFs::new();
        repo(&fs, "/p");
        let r = audit(&fs, mode, |fs| {
            fs.file("/p/.git/hooks/pre-commit", "x").file("/p/.mcp.json", "{}");
        });
        assert_eq!(summary(&r), [(GitHook, "/p/.git/hooks/pre-commit", Created, Left), (ToolFile, "/p/.mcp.json", Created, Left)]);
        assert_eq!(r.action, mode);
        assert!(fs.log.borrow().is_empty());
        assert!(fs.get("/p/.mcp.json").is_some());
        assert_eq!(tainted(&r), mode == OnTaint::Fail);
    }
}

#[test]
fn a_revert_that_fails_taints_the_run() {
    let fs = MemFs::new();
    fs.file("/p/.claude/settings.json", "{}");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.mcp.json", "{}").file("/p/.claude/settings.json", "{\"x\":1}");
        fs.fail("quarantine", "/p/.mcp.json", Errno(9001));
        fs.fail("put_file", "/p/.claude/settings.json", Errno(9002));
    });
    assert_eq!(summary(&r), [(ToolFile, "/p/.claude/settings.json", Changed, Failed), (ToolFile, "/p/.mcp.json", Created, Failed)]);
    assert!(r.findings[0].error.as_deref().unwrap().ends_with("error 9002"));
    assert!(r.findings[1].error.as_deref().unwrap().ends_with("error 9001"));
    assert!(tainted(&r));
    assert_eq!(
        describe(&r)[1],
        format!("audit: tool-file /p/.mcp.json: editor, agent or shell settings (NOT reverted: cannot move /p/.mcp.json to {Q}/p/.mcp.json: error 9001)")
    );
}

#[test]
fn a_symlink_planted_on_the_way_stops_the_revert() {
    let fs = MemFs::new();
    fs.file("/p/a/.vscode/settings.json", "{}");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        // The planted file, then its parent replaced by a symlink: the
        // file is no longer under the root as the walk sees it.
        fs.file("/p/b/.vscode/tasks.json", "{}");
        fs.remove("/p/a").symlink("/p/a", "/etc");
    });
    assert_eq!(summary(&r), [(ToolFile, "/p/b/.vscode/tasks.json", Created, Quarantined)]);
    assert!(fs.get("/etc").is_none());
}

#[test]
fn without_a_home_nothing_can_be_moved() {
    let mut fs = MemFs::new();
    fs.home = None;
    fs.dir("/p");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.mcp.json", "{}");
    });
    assert_eq!(summary(&r), [(ToolFile, "/p/.mcp.json", Created, Failed)]);
    assert!(tainted(&r));
}

#[test]
fn an_explicit_quarantine_and_several_roots() {
    let fs = MemFs::new();
    repo(&fs, "/r");
    fs.dir("/r/p");
    let spec =
        AuditSpec { roots: vec!["/r/p".into(), "/r".into(), "/r/p".into(), "/missing".into()], on_taint: OnTaint::Revert, quarantine: Some("/q/".into()) };
    let r = audit_with(&fs, &spec, Limits::default(), |fs| {
        fs.file("/r/.git/hooks/pre-commit", "x").file("/missing/.mcp.json", "{}").file("/r/p/.envrc", "x");
    });
    assert_eq!(summary(&r), [(GitHook, "/r/.git/hooks/pre-commit", Created, Quarantined), (ToolFile, "/r/p/.envrc", Created, Quarantined)]);
    assert_eq!(r.quarantine.as_deref(), Some("/q/1010-42"));
    // /r/p lies inside /r: walked once, each finding moved once.
    assert_eq!(fs.log.borrow().len(), 2);
}

#[test]
fn a_root_that_cannot_be_opened_stops_the_snapshot() {
    let fs = MemFs::new();
    fs.dir("/p").fail("pin", "/p", Errno(9003));
    assert_eq!(Audit::snapshot(&fs, &spec(OnTaint::Revert), Limits::default()).err(), Some(("/p".to_string(), Errno(9003))));
}

#[test]
fn an_unreadable_root_is_incomplete() {
    let fs = MemFs::new();
    fs.dir("/p");
    let a = Audit::snapshot(&fs, &spec(OnTaint::Fail), Limits::default()).unwrap();
    fs.fail("list", "/p", Errno(9004));
    let r = a.check(&fs, 0);
    assert_eq!(summary(&r), [(Incomplete, "/p", Unknown, Left)]);
    assert_eq!(r.findings[0].detail, "cannot read the root: error 9004");
}

#[test]
fn a_directory_that_fails_to_list_makes_the_audit_incomplete_unless_it_is_unreadable_or_gone() {
    for (errno, incomplete) in [(libc::EIO, true), (libc::EMFILE, true), (9006, true), (libc::EACCES, false), (libc::ENOENT, false), (libc::ENOTDIR, false)] {
        let fs = MemFs::new();
        fs.dir("/p");
        fs.dir("/p/sub");
        let a = Audit::snapshot(&fs, &spec(OnTaint::Fail), Limits::default()).unwrap();
        fs.fail("list", "/p/sub", Errno(errno));
        let r = a.check(&fs, 0);
        if incomplete {
            assert_eq!(summary(&r), [(Incomplete, "/p", Unknown, Left)], "errno {errno}");
            assert_eq!(r.findings[0].detail, format!("cannot read sub: {}", Errno(errno)));
        } else {
            assert!(r.findings.is_empty(), "errno {errno}: {:?}", r.findings);
        }
    }
}

#[test]
fn the_report_line_shape() {
    let fs = MemFs::new();
    fs.dir("/p");
    let r = audit(&fs, OnTaint::Revert, |fs| {
        fs.file("/p/.mcp.json", "{}");
    });
    let v = serde_json::to_value(crate::report::Report::Audit(r)).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"event": "audit", "action": "revert", "status": 3, "quarantine": Q, "findings": [{
            "kind": "tool-file", "path": "/p/.mcp.json", "change": "created", "detail": "editor, agent or shell settings",
            "outcome": "quarantined", "quarantinedAs": format!("{Q}/p/.mcp.json")
        }]})
    );
}

mod launcher {
    use super::*;
    use crate::launch::{audit_after, audit_before};
    use crate::plan::Plan;
    use crate::sys::script::{Ret, Script};

    fn plan(on_taint: OnTaint) -> Plan {
        let mut p = Plan::new(vec!["/bin/true".into()]);
        p.audit = Some(spec(on_taint));
        p
    }

    fn planted() -> MemFs {
        let fs = MemFs::new();
        fs.dir("/p").tick();
        fs
    }

    #[test]
    fn no_audit_no_calls() {
        let s = Script::new(Vec::<(String, Ret)>::new());
        let fs = MemFs::new();
        assert!(audit_before(&fs, &Plan::new(vec!["x".into()])).unwrap().is_none());
        assert_eq!(audit_after(&fs, &s, Some(9), None, 7), 7);
        s.done();
    }

    #[test]
    fn a_clean_run_reports_an_empty_audit_and_keeps_the_status() {
        let fs = planted();
        let s = Script::new(vec![(
            "write_fd(9, \"{\\\"event\\\":\\\"audit\\\",\\\"action\\\":\\\"revert\\\",\\\"findings\\\":[],\\\"status\\\":7}\\n\")",
            Ret::Ok,
        )]);
        let a = audit_before(&fs, &plan(OnTaint::Revert)).unwrap();
        assert_eq!(audit_after(&fs, &s, Some(9), a, 7), 7);
        s.done();
    }

    #[test]
    fn fail_reports_the_findings_then_e_tainted() {
        let fs = planted();
        let s = Script::new(vec![
            ("write_fd(9, \"{\\\"event\\\":\\\"audit\\\",\\\"action\\\":\\\"fail\\\",\\\"findings\\\":[{\\\"kind\\\":\\\"tool-file\\\",\\\"path\\\":\\\"/p/.mcp.json\\\",\\\"change\\\":\\\"created\\\",\\\"detail\\\":\\\"editor, agent or shell settings\\\",\\\"outcome\\\":\\\"left\\\"}],\\\"status\\\":0}\\n\")", Ret::Ok),
            ("write_fd(9, \"{\\\"event\\\":\\\"error\\\",\\\"code\\\":\\\"E_TAINTED\\\",\\\"message\\\":\\\"the run left 1 findings host tools would act on (first: /p/.mcp.json); left in place as --on-taint=fail asks\\\"}\\n\")", Ret::Ok),
        ]);
        let a = audit_before(&fs, &plan(OnTaint::Fail)).unwrap();
        fs.file("/p/.mcp.json", "{}");
        assert_eq!(audit_after(&fs, &s, Some(9), a, 0), crate::init::EXIT_SETUP);
        s.done();
        assert!(fs.get("/p/.mcp.json").is_some());
    }

    #[test]
    fn without_a_report_channel_the_findings_go_to_stderr() {
        let fs = planted();
        let s = Script::new(Vec::<(String, Ret)>::new());
        let a = audit_before(&fs, &plan(OnTaint::Warn)).unwrap();
        fs.file("/p/.envrc", "x");
        assert_eq!(audit_after(&fs, &s, None, a, 5), 5);
        assert_eq!(s.logs(), ["audit: tool-file /p/.envrc: editor, agent or shell settings (left in place)"]);
    }

    #[test]
    fn a_revert_that_fails_is_e_tainted() {
        let mut fs = planted();
        fs.home = None;
        let s = Script::new(Vec::<(String, Ret)>::new());
        let a = audit_before(&fs, &plan(OnTaint::Revert)).unwrap();
        fs.file("/p/.envrc", "x");
        assert_eq!(audit_after(&fs, &s, None, a, 0), crate::init::EXIT_SETUP);
        assert_eq!(s.logs()[1], "E_TAINTED: the post-run audit could not undo 1 of 1 findings (first: /p/.envrc)");
    }

    #[test]
    fn a_snapshot_that_fails_stops_the_launch() {
        let fs = planted();
        fs.fail("pin", "/p", Errno(20_500));
        // The launcher's one fatal point reports it and exits 125.
        let e = audit_before(&fs, &plan(OnTaint::Revert)).map(|_| ()).unwrap_err();
        assert_eq!((e.code, e.to_string()), (crate::error::Code::Setup, "cannot audit /p: error 20500".to_string()));
    }
}
