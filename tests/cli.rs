//! The `engram` binary as a user runs it.

use std::process::Command;

fn engram(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_engram"))
        .args(args)
        .output()
        .expect("the engram binary runs")
}

#[test]
fn gradcheck_prints_a_table_and_a_summary_line() {
    let out = engram(&["gradcheck", "--filter", "matmul/"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("max abs err") && text.contains("matmul/mat_mat"),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(last.ends_with("passed, 0 failed"), "{last}");
}

#[test]
fn gradcheck_second_order_in_f32_marks_loose_tolerances() {
    let out = engram(&[
        "gradcheck",
        "--order",
        "2",
        "--dtype",
        "f32",
        "--filter",
        "tanh/",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("f32 (loose tolerances"), "{text}");
}

#[test]
fn gradcheck_writes_a_json_report() {
    let path = std::env::temp_dir().join(format!("engram-cli-{}.json", std::process::id()));
    let out = engram(&[
        "gradcheck",
        "--filter",
        "softmax/",
        "--json",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(report["failed"], 0);
    assert!(report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"].as_str().unwrap().contains("softmax/")));
    std::fs::remove_file(path).unwrap();
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let out = engram(&["gradcheck", "--order", "3"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--order"));
    let none = engram(&["gradcheck", "--filter", "no-such-op"]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no case matches"));
    let unwritable = engram(&[
        "gradcheck",
        "--filter",
        "exp/matrix",
        "--json",
        "/nonexistent-dir/r.json",
    ]);
    assert!(!unwritable.status.success());
    assert!(String::from_utf8_lossy(&unwritable.stderr).contains("cannot write the report"));
}

/// `--json` over a symbolic link is refused and the link and its target stay as they were
/// (it used to rename a temporary file over the link).
#[cfg(unix)]
#[test]
fn the_json_report_never_replaces_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.json");
    std::fs::write(&target, "untouched").unwrap();
    let link = dir.path().join("report.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = engram(&[
        "gradcheck",
        "--filter",
        "exp/matrix",
        "--json",
        link.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
}
