//! `hotspot run` on a serial LoRa module (a simulated RAK3172 on a pseudo-terminal), chosen by
//! the `rak3172-usb` hardware profile: the daemon sets the module up for P2P reception, turns a
//! beacon it hears into a spooled witness report, and survives garbage on the port.

use radio_io::serial_sim::SimulatedModule;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, daemon: &mut Daemon, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if let Ok(Some(status)) = daemon.0.try_wait() {
            panic!("the daemon exited ({status}) while waiting for {what}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spooled(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().is_file())
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn the_daemon_runs_on_a_serial_module_and_witnesses_what_it_hears() {
    let module = SimulatedModule::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let config = dir.path().join("hotspot.toml");
    std::fs::write(
        &config,
        format!(
            "key = {:?}\nspool_dir = {:?}\noracle = \"http://127.0.0.1:9\"\n\
             [beacon]\ninterval_secs = 86400\n[radio.serial]\ndevice = {:?}\n",
            dir.path().join("key.bin"),
            spool,
            module.path()
        ),
    )
    .unwrap();
    let hotspot = env!("CARGO_BIN_EXE_hotspot");
    let key = Command::new(hotspot)
        .args(["--config", &config.to_string_lossy(), "key", "generate"])
        .output()
        .unwrap();
    assert!(key.status.success());
    let mut daemon = Daemon(
        Command::new(hotspot)
            .args([
                "--config",
                &config.to_string_lossy(),
                "--profile",
                "rak3172-usb",
                "run",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the module to listen", &mut daemon, || {
        module.is_listening()
    });
    assert!(module.commands().contains(&"AT+NWM=0".to_string()));
    assert_eq!(module.p2p(), "904100000:9:125:0:8:14");

    module.write_raw(b"\x00\xff garbage \xfe\r\n+EVT:RXP2P:-1:x:zz\r\n");
    let mut beacon: Vec<u8> = (0..poc::BEACON_PAYLOAD_LEN as u8).collect();
    beacon[0] = poc::BEACON_MHDR;
    assert!(module.emit_reception(-101, -4, &beacon));
    wait_for("a witness report in the spool", &mut daemon, || {
        spooled(&spool) >= 1
    });
    // A frame that is not beacon-sized, or has no beacon's frame header, is heard but not
    // witnessed.
    assert!(module.emit_reception(-90, 3, b"short"));
    let mut unmarked = beacon.clone();
    unmarked[0] = 0x40;
    assert!(module.emit_reception(-90, 3, &unmarked));
    let mut other = beacon.iter().rev().copied().collect::<Vec<_>>();
    other[0] = poc::BEACON_MHDR;
    assert!(module.emit_reception(-99, -2, &other));
    wait_for("the second witness report", &mut daemon, || {
        spooled(&spool) >= 2
    });
    assert_eq!(
        daemon.0.try_wait().unwrap(),
        None,
        "the daemon is still running"
    );
}
