//! `wafka check` golden tests: each `tests/ui/NAME.toml` beside the exact report it must give
//! in `NAME.out`. Set `WAFKA_BLESS=1` to rewrite the `.out` files after a deliberate change.

use std::path::Path;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_match_golden_files() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let mut cases: Vec<_> = std::fs::read_dir(&ui)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "golden cases are missing");
    let bless = std::env::var_os("WAFKA_BLESS").is_some();
    let mut failures = Vec::new();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let filters = dir.path().join("filters.d");
        std::fs::create_dir(&filters).unwrap();
        for f in ["json-enrich", "topic-router", "jwt-auth"] {
            wafka_tests::gateway::install_filter(&filters, f);
        }
        std::fs::write(filters.join("not-a-component.wasm"), b"\0asm garbage").unwrap();
        let config = dir.path().join("wafka.toml");
        std::fs::copy(&case, &config).unwrap();

        let report = match wafka::cli::check_report(&config).await {
            Ok(ok) => format!("ok: {ok}\n"),
            Err(e) => format!("error: {e}\n"),
        };
        let report = report.replace(&dir.path().display().to_string(), "$DIR");
        let golden = case.with_extension("out");
        if bless {
            std::fs::write(&golden, &report).unwrap();
        } else if std::fs::read_to_string(&golden).unwrap_or_default() != report {
            failures.push(format!("{}:\n  got: {report}", golden.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n")
    );
}
