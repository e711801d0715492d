//! `docs/filters.md`, followed step by step: `wafka new-filter`, the guide's code, `cargo test`,
//! `cargo build --target wasm32-wasip2`, the file dropped into a running gateway with the
//! guide's route, and the record it produces read back from Kafka.

use std::path::{Path, PathBuf};
use std::process::Command;

use wafka_tests::kafka::read_all;
use wafka_tests::{Broker, TestGateway};

/// The fenced block after `<!-- guide:NAME -->` in the guide.
fn block(guide: &str, name: &str) -> String {
    let marker = format!("<!-- guide:{name} -->");
    let after = &guide[guide
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} missing"))..];
    let start = after.find("```").unwrap();
    let body = &after[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_owned()
}

/// `cargo ARGS` in `dir` with a clean environment (the suite's own flags must not leak in).
fn cargo(dir: &Path, target_dir: &Path, args: &[&str]) {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.env_clear();
    for var in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
    ] {
        if let Ok(value) = std::env::var(var) {
            command.env(var, value);
        }
    }
    let out = command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .args(args)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_written_by_following_the_guide_builds_and_runs() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/filters.md")).unwrap();
    let work = tempfile::tempdir().unwrap();
    // Step 2: the scaffold (what `wafka new-filter` calls).
    let crate_dir = wafka::scaffold::new_filter("tenant-stamp", work.path(), None).unwrap();
    // Step 3: the guide's code.
    std::fs::write(crate_dir.join("src/lib.rs"), block(&guide, "lib.rs")).unwrap();
    // Steps 4 and 5, in a target directory kept between runs.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guide-filter");
    cargo(&crate_dir, &target, &["test", "--quiet"]);
    cargo(
        &crate_dir,
        &target,
        &["build", "--release", "--target", "wasm32-wasip2"],
    );

    // Step 6: a running gateway; the file into its filters directory, then the guide's route.
    let gw = TestGateway::builder(Broker::Embedded)
        .routes("[[routes]]\nname = \"other\"\npath = \"/v1/other\"\ntopic = \"other\"\n")
        .topics(&["events.web"])
        .watched()
        .start()
        .await;
    let before = gw.reloads().await;
    std::fs::copy(
        target.join("wasm32-wasip2/release/tenant_stamp.wasm"),
        gw.filters_dir().join("tenant-stamp.wasm"),
    )
    .unwrap();
    let before = gw.reloaded(&before, true).await;
    gw.write_routes(&block(&guide, "route"));
    gw.reloaded(&before, true).await;
    let res = gw
        .send(
            "POST",
            "/v1/tenants/events",
            &[("x-tenant", "acme")],
            r#"{"n":1}"#,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    let res = gw
        .send(
            "POST",
            "/v1/tenants/events",
            &[("x-tenant", "initech")],
            r#"{"n":2}"#,
        )
        .await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (403, "unknown_tenant")
    );
    let res = gw
        .send("POST", "/v1/tenants/events", &[], r#"{"n":3}"#)
        .await;
    assert_eq!(
        (res.status, res.error_code().as_str()),
        (400, "missing_tenant")
    );

    let records = read_all(&gw.bootstrap, "events.web");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key.as_deref(), Some(&b"acme"[..]));
    assert!(
        records[0]
            .headers
            .contains(&("x-tenant".to_owned(), b"acme".to_vec()))
    );
    gw.shutdown().await;
}
