//! Hardware profiles through the `hotspot` command line: the profile is taken by name (flag or
//! config), a wrong one is a clear error listing the known names, the board's regions bound the
//! configured region, and the stock antenna gain is the default of `assert --gain`.

use oracle::{Oracle, OracleConfig, SystemClock};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

fn hotspot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hotspot"))
        .args(args)
        .env_remove("HOTSPOT_CONFIG")
        .env_remove("HOTSPOT_PROFILE")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the hotspot binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_config(dir: &Path, extra: &str) -> String {
    let path = dir.join("hotspot.toml");
    let text = format!(
        "key = {:?}\nspool_dir = {:?}\n{extra}",
        dir.join("key.bin"),
        dir.join("spool")
    );
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn profiles_lists_every_built_in_profile() {
    let output = hotspot(&["profiles"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    for name in hardware::names() {
        assert!(listing.contains(name), "{name} missing from\n{listing}");
    }
    // Each board's transmit power range, from its profile.
    let line = |name: &str| {
        listing
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}"))
            .to_string()
    };
    assert!(line("rak-hotspot-v2").contains("tx 12–27 dBm"), "{listing}");
    assert!(line("rtl-sdr").contains("receive only"), "{listing}");
}

#[test]
fn a_wrong_or_missing_profile_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    for (flag, expect) in [("no-such-board", "no-such-board"), ("", "\"\"")] {
        let output = hotspot(&["--config", &config, "--profile", flag, "key", "show"]);
        assert!(!output.status.success());
        let error = stderr(&output);
        assert!(
            error.contains(expect) && error.contains("rak-hotspot-v2") && error.contains("rtl-sdr"),
            "{error}"
        );
    }
    let config = write_config(dir.path(), "[hardware]\nprofile = \"sensecap-m2\"\n");
    let output = hotspot(&["--config", &config, "key", "show"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("sensecap-m2"),
        "{}",
        stderr(&output)
    );
    let output = hotspot(&["--profile", "/nonexistent/board.toml", "key", "show"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("/nonexistent/board.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_region_the_board_is_not_sold_for_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "region = \"CN470\"\n");
    let output = hotspot(&[
        "--config",
        &config,
        "--profile",
        "sensecap-m1",
        "key",
        "generate",
    ]);
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains("CN470") && error.contains("sensecap-m1"),
        "{error}"
    );
    // The same region on a board sold for it is fine.
    let output = hotspot(&[
        "--config",
        &config,
        "--profile",
        "diy-rak2287-hat",
        "key",
        "generate",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn an_sdr_profile_without_the_soapysdr_build_says_which_feature_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[radio.soapysdr]\ntransmit = false\n");
    let output = hotspot(&[
        "--config",
        &config,
        "--profile",
        "rtl-sdr",
        "key",
        "generate",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = hotspot(&["--config", &config, "--profile", "rtl-sdr", "run"]);
    assert!(!output.status.success());
    let error = stderr(&output);
    if cfg!(feature = "soapysdr") {
        assert!(error.contains("no SoapySDR device matches"), "{error}");
        assert!(error.contains("driver=rtlsdr"), "{error}");
    } else {
        assert!(error.contains("--features soapysdr"), "{error}");
    }
    // A receive-only board is refused when told to transmit.
    let config = write_config(dir.path(), "[radio.soapysdr]\ntransmit = true\n");
    let output = hotspot(&["--config", &config, "--profile", "rtl-sdr", "run"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cannot transmit"),
        "{}",
        stderr(&output)
    );
}

fn start_oracle(dir: &Path) -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let bound = runtime.block_on(async {
        let oracle = Oracle::open(OracleConfig::open(), dir, Arc::new(SystemClock))
            .await
            .unwrap();
        let (bound, _server) = oracle
            .serve_grpc("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        bound
    });
    (runtime, bound)
}

#[test]
fn the_profile_antenna_gain_is_what_assert_sends_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let oracle_dir = dir.path().join("oracle");
    std::fs::create_dir_all(&oracle_dir).unwrap();
    let (runtime, addr) = start_oracle(&oracle_dir);
    let config = write_config(dir.path(), &format!("oracle = \"http://{addr}\"\n"));
    let output = hotspot(&["--config", &config, "key", "generate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let gain_of = |info: &Output| -> f64 {
        let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        json["gain_dbi"].as_f64().unwrap()
    };
    let assert_args = [
        "--config",
        &config,
        "--profile",
        "rak3172-usb",
        "assert",
        "--lat",
        "37.77929",
        "--lon",
        "-122.41924",
    ];
    let output = hotspot(&assert_args);
    assert!(output.status.success(), "{}", stderr(&output));
    let info = hotspot(&["--config", &config, "info"]);
    assert!(info.status.success(), "{}", stderr(&info));
    assert_eq!(gain_of(&info), 2.0, "rak3172-usb's stock antenna");
    // An explicit --gain wins over the profile.
    let mut explicit = assert_args.to_vec();
    explicit.extend(["--gain", "5.5"]);
    let output = hotspot(&explicit);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(gain_of(&hotspot(&["--config", &config, "info"])), 5.5);
    runtime.shutdown_background();
}
