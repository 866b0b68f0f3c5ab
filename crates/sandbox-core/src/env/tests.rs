//! The environment rules against ch-run 0.31's answers (measured with
//! Debian's ch-run on a busybox image, docs/hpc.md), and every fatal
//! branch of reading a file through the call-script double.

use super::steps::{append_path, expand, parse_assign, parse_file, set, unset, ParseError};
use super::{check, finish, prepare, Ready};
use crate::error::Code;
use crate::plan::{EnvStep, FileScope};
use crate::sys::script::{Ret, Script};
use crate::sys::FileKind;

fn env(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

type Call = (String, Ret);

fn call(s: impl Into<String>, r: Ret) -> Call {
    (s.into(), r)
}

const O_READ: i32 = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC;

#[test]
fn expansion_as_ch_run_0_31() {
    let e = env(&["A=1", "EMPTY="]);
    // (value, ch-run's result), each measured with `--set-env 'X=value'`.
    for (value, want) in [
        ("$A:$NOPE:z", "1:z"),
        ("a::b:$A:", "a::b:1:"),
        ("$", "$"),
        ("$NOPE", ""),
        (":$A", ":1"),
        ("$A$A:x$A", "x$A"),
        ("$A:$A", "1:1"),
        ("$NOPE:$NOPE", ""),
        ("$A=b", ""),
        ("$EMPTY:y", "y"),
        ("plain", "plain"),
        ("", ""),
        ("z:$NOPE", "z"),
        ("$NOPE:z", "z"),
        ("::", "::"),
    ] {
        assert_eq!(expand(value, &e), want, "{value:?}");
    }
}

#[test]
fn assignments_as_ch_run_0_31() {
    let ok = |t: &str| parse_assign(t).unwrap();
    assert_eq!(ok("Y='q'"), ("Y".into(), "q".into()));
    assert_eq!(ok("T=''''"), ("T".into(), "''".into()));
    assert_eq!(ok("S=\"d\""), ("S".into(), "\"d\"".into()));
    assert_eq!(ok("R='a"), ("R".into(), "'a".into()));
    assert_eq!(ok("Q='"), ("Q".into(), "'".into()));
    assert_eq!(ok("N= 'x' "), ("N".into(), " 'x' ".into()));
    assert_eq!(ok("C=a=b"), ("C".into(), "a=b".into()));
    assert_eq!(ok("E="), ("E".into(), "".into()));
    assert_eq!(ok(" B=1"), (" B".into(), "1".into()));
    assert_eq!(ok("X='$A'"), ("X".into(), "$A".into()));
    assert_eq!(parse_assign("=foo"), Err(ParseError::EmptyName));
    assert_eq!(parse_assign("nodelim"), Err(ParseError::NoDelimiter));
    assert_eq!(ParseError::EmptyName.message("=foo"), "cannot parse variable: empty name: =foo");
}

#[test]
fn files_skip_empty_lines_and_name_the_bad_line() {
    assert_eq!(parse_file("/f", "A=1\n\nB='2'\n").unwrap(), vec![("A".into(), "1".into()), ("B".into(), "2".into())]);
    assert_eq!(parse_file("/f", "A=1").unwrap(), vec![("A".into(), "1".into())]);
    // \r is part of the value (ch-run keeps it).
    assert_eq!(parse_file("/f", "A=1\r\n").unwrap(), vec![("A".into(), "1\r".into())]);
    assert_eq!(parse_file("/tmp/envf", "A=1\n\nnodelim\n").unwrap_err(), "cannot parse variable: no delimiter: /tmp/envf:3");
    assert_eq!(parse_file("/tmp/envf2", "A=1\n=x\n").unwrap_err(), "cannot parse variable: empty name: /tmp/envf2:2");
    // No comments: a `#` line has no delimiter, as in ch-run.
    assert_eq!(parse_file("/c", "# c\nA=1\n").unwrap_err(), "cannot parse variable: no delimiter: /c:1");
}

#[test]
fn path_gets_bin_as_ch_run_0_31() {
    for (path, want) in [
        ("/usr/bin", "/usr/bin:/bin"),
        ("/usr/local/bin:/usr/bin", "/usr/local/bin:/usr/bin:/bin"),
        ("/usr/bin:/bin", "/usr/bin:/bin"),
        ("/bin:/usr/bin", "/bin:/usr/bin"),
        ("", ":/bin"),
        ("/bin2", "/bin2"),
        ("/usr/bin:/bin/", "/usr/bin:/bin/"),
        ("/usr/bin:/binx", "/usr/bin:/binx"),
        (":", "::/bin"),
        ("/sbin", "/sbin:/bin"),
    ] {
        let mut e = env(&[&format!("PATH={path}")]);
        assert!(append_path(&mut e, "PATH", "/bin"));
        assert_eq!(e, env(&[&format!("PATH={want}")]), "{path:?}");
    }
    let mut e = env(&["A=1"]);
    assert!(!append_path(&mut e, "PATH", "/bin"), "unset PATH stays unset");
    assert_eq!(e, env(&["A=1"]));
}

#[test]
fn set_replaces_in_place_and_unset_takes_globs() {
    let mut e = env(&["A=1", "B=2", "AB=3"]);
    set(&mut e, "B", "9");
    set(&mut e, "C", "");
    assert_eq!(e, env(&["A=1", "B=9", "AB=3", "C="]));
    unset(&mut e, "A*");
    assert_eq!(e, env(&["B=9", "C="]));
    let mut e = env(&["WANTED_1=a", "ALSO_WANTED_2=b", "OTHER=c", "PATH=/bin"]);
    unset(&mut e, "!(WANTED_*|ALSO_WANTED_*)");
    assert_eq!(e, env(&["WANTED_1=a", "ALSO_WANTED_2=b"]));
    let mut e = env(&["A=1", "B=2"]);
    unset(&mut e, "*");
    assert!(e.is_empty());
}

fn assign(text: &str, expand: bool) -> EnvStep {
    EnvStep::Assign { text: text.into(), expand }
}

#[test]
fn steps_apply_in_command_line_order() {
    let s = Script::new(Vec::<Call>::new());
    let steps = vec![
        EnvStep::AppendPath { name: "PATH".into(), dir: "/bin".into() },
        EnvStep::Unset { glob: "TMPDIR".into() },
        EnvStep::Unset { glob: "A*".into() },
        assign("A=9", true),
        assign("XX='$B:$A:$NOPE:z'", true),
        EnvStep::Unset { glob: "?".into() },
        assign("YY=$B", false),
        EnvStep::Set { name: "SANDBOXCTL_RUNNING".into(), value: "1".into(), expand: false },
    ];
    let ready = prepare(&s, &steps).unwrap();
    let out = finish(&s, &ready, env(&["A=1", "B=2", "AB=3", "TMPDIR=/t", "PATH=/usr/bin"])).unwrap();
    // `?` took A and B (one-letter names), after X was expanded with them.
    assert_eq!(out, env(&["PATH=/usr/bin:/bin", "XX=2:9:z", "YY=$B", "SANDBOXCTL_RUNNING=1"]));
    s.done();
}

#[test]
fn check_names_the_step() {
    assert_eq!(check(&[EnvStep::Unset { glob: "".into() }]).unwrap_err().0, "env.steps[0].glob");
    let e = check(&[EnvStep::Unset { glob: "A".into() }, assign("=foo", true)]).unwrap_err();
    assert_eq!(e, ("env.steps[1].text".into(), "cannot parse variable: empty name: =foo".into()));
    assert_eq!(check(&[EnvStep::File { path: "rel".into(), scope: FileScope::Host, expand: true, optional: false }]).unwrap_err().0, "env.steps[0].path");
    assert!(check(&[EnvStep::Set { name: "A=B".into(), value: "".into(), expand: false }]).is_err());
    assert!(check(&[EnvStep::AppendPath { name: "PATH".into(), dir: "".into() }]).is_err());
    let s = Script::new(Vec::<Call>::new());
    assert_eq!(prepare(&s, &[assign("nodelim", true)]).unwrap_err().code, Code::PlanInvalid);
}

fn host_file(path: &str, optional: bool) -> EnvStep {
    EnvStep::File { path: path.into(), scope: FileScope::Host, expand: true, optional }
}

#[test]
fn host_files_are_read_by_the_launcher() {
    let s = Script::new(vec![
        call(format!("open(\"/e\", {O_READ:#o})"), Ret::Fd(5)),
        call("fstat(5)", Ret::Kind(FileKind::File)),
        call("read(5, 65536)", Ret::Bytes(b"A='x'\nB=$A:y\n".to_vec())),
        call("read(5, 65536)", Ret::Bytes(Vec::new())),
        call("close(5)", Ret::Ok),
        call(format!("open(\"/missing\", {O_READ:#o})"), Ret::Err(libc::ENOENT)),
    ]);
    let ready = prepare(&s, &[host_file("/e", false), host_file("/missing", true)]).unwrap();
    assert_eq!(ready, vec![Ready::Vars { vars: vec![("A".into(), "x".into()), ("B".into(), "$A:y".into())], expand: true }]);
    s.done();
    assert_eq!(finish(&Script::new(Vec::<Call>::new()), &ready, vec![]).unwrap(), env(&["A=x", "B=x:y"]));
}

#[test]
fn host_file_failures_are_plan_errors_naming_the_file() {
    let open = |p: &str| format!("open({p:?}, {O_READ:#o})");
    let cases: Vec<(Vec<Call>, &str)> = vec![
        (vec![call(open("/e"), Ret::Err(libc::ENOENT))], "cannot open environment file /e: no such file or directory"),
        (vec![call(open("/e"), Ret::Err(10_001))], "cannot open environment file /e: error 10001"),
        (
            vec![call(open("/e"), Ret::Fd(5)), call("fstat(5)", Ret::Kind(FileKind::Other)), call("close(5)", Ret::Ok)],
            "cannot read environment file /e: not a regular file",
        ),
        (vec![call(open("/e"), Ret::Fd(5)), call("fstat(5)", Ret::Err(10_002)), call("close(5)", Ret::Ok)], "cannot stat environment file /e: error 10002"),
        (
            vec![
                call(open("/e"), Ret::Fd(5)),
                call("fstat(5)", Ret::Kind(FileKind::File)),
                call("read(5, 65536)", Ret::Err(10_003)),
                call("close(5)", Ret::Ok),
            ],
            "cannot read environment file /e: error 10003",
        ),
        (
            vec![
                call(open("/e"), Ret::Fd(5)),
                call("fstat(5)", Ret::Kind(FileKind::File)),
                call("read(5, 65536)", Ret::Bytes(vec![0xff])),
                call("read(5, 65536)", Ret::Bytes(Vec::new())),
                call("close(5)", Ret::Ok),
            ],
            "cannot read environment file /e: not UTF-8",
        ),
        (
            vec![
                call(open("/e"), Ret::Fd(5)),
                call("fstat(5)", Ret::Kind(FileKind::File)),
                call("read(5, 65536)", Ret::Bytes(b"A=1\nB\n".to_vec())),
                call("read(5, 65536)", Ret::Bytes(Vec::new())),
                call("close(5)", Ret::Ok),
            ],
            "cannot parse variable: no delimiter: /e:2",
        ),
    ];
    // Too big: refused after the first chunk past the limit, never read on.
    let mut big = vec![call(open("/e"), Ret::Fd(5)), call("fstat(5)", Ret::Kind(FileKind::File))];
    for _ in 0..=16 {
        big.push(call("read(5, 65536)", Ret::Bytes(vec![b'A'; 65536])));
    }
    big.push(call("close(5)", Ret::Ok));
    let mut cases = cases;
    cases.push((big, "cannot read environment file /e: larger than 1048576 bytes"));
    for (calls, want) in cases {
        let s = Script::new(calls);
        let e = prepare(&s, &[host_file("/e", false)]).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (Code::PlanInvalid, want));
        s.done();
    }
}

#[test]
fn image_files_are_read_by_pid_1_in_order() {
    let root = EnvStep::File { path: "/ch/environment".into(), scope: FileScope::Root, expand: true, optional: true };
    let steps = vec![assign("A=host", true), root.clone(), assign("C=$B", true)];
    let ready = prepare(&Script::new(Vec::<Call>::new()), &steps).unwrap();
    let s = Script::new(vec![
        call(format!("open(\"/ch/environment\", {O_READ:#o})"), Ret::Fd(7)),
        call("fstat(7)", Ret::Kind(FileKind::File)),
        call("read(7, 65536)", Ret::Bytes(b"B=$A:img\nA=image\n".to_vec())),
        call("read(7, 65536)", Ret::Bytes(Vec::new())),
        call("close(7)", Ret::Ok),
    ]);
    assert_eq!(finish(&s, &ready, vec![]).unwrap(), env(&["A=image", "B=host:img", "C=host:img"]));
    s.done();
    // optional and missing: nothing; required and missing: a plan error.
    let s = Script::new(vec![call(format!("open(\"/ch/environment\", {O_READ:#o})"), Ret::Err(libc::ENOENT))]);
    assert_eq!(finish(&s, &prepare(&s, &[root]).unwrap(), env(&["A=1"])).unwrap(), env(&["A=1"]));
    s.done();
    let required = EnvStep::File { path: "/ch/environment".into(), scope: FileScope::Root, expand: true, optional: false };
    let s = Script::new(vec![call(format!("open(\"/ch/environment\", {O_READ:#o})"), Ret::Err(libc::ENOENT))]);
    let e = finish(&s, &prepare(&s, &[required]).unwrap(), vec![]).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (Code::PlanInvalid, "cannot open environment file /ch/environment in the sandbox: no such file or directory"));
    s.done();
}
