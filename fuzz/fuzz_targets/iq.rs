//! Fuzz target: IQ recordings. Arbitrary bytes are read as a cf32, cs16 or cu8 file through
//! the IQ-file radio (`IqFileBackend`: chunked reads, partial samples carried over, the
//! streaming receiver), and through `SampleFormat::decode`/`encode`, whose round trip must be
//! exact for the integer formats and bit-exact for cf32. Format names are parsed too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use radio::iq::SampleFormat;
use radio::{Calibration, LoraParams};
use radio_io::{Backend, IqFileBackend, IqFileConfig};
use std::io::Write;
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if let Ok(name) = std::str::from_utf8(rest) {
        let _ = name.parse::<SampleFormat>();
    }
    let format =
        [SampleFormat::Cf32, SampleFormat::Cs16, SampleFormat::Cu8][usize::from(selector % 3)];

    // Decode, encode, decode: the integer formats are exact; cf32 keeps every bit.
    let mut samples = Vec::new();
    let used = format.decode(rest, &mut samples);
    assert_eq!(used % format.bytes_per_sample(), 0);
    assert_eq!(used / format.bytes_per_sample(), samples.len());
    let bytes = format.encode(&samples);
    match format {
        SampleFormat::Cf32 => assert_eq!(bytes, rest[..used]),
        _ => {
            let mut again = Vec::new();
            format.decode(&bytes, &mut again);
            assert_eq!(again, samples);
        }
    }

    // The IQ-file radio over the bytes as a recording.
    let mut path = std::env::temp_dir();
    path.push(format!("iq-fuzz-{}.bin", std::process::id()));
    let Ok(mut file) = std::fs::File::create(&path) else {
        return;
    };
    if file.write_all(rest).is_err() {
        return;
    }
    drop(file);
    let params = LoraParams {
        oversampling: 1 + u32::from(selector >> 7),
        ..LoraParams::new(7 + (selector >> 2) % 2, 125_000)
    };
    let config = IqFileConfig {
        rx_path: Some(path.clone()),
        format,
        frequency_hz: 904_100_000,
        params,
        start_ns: 1_700_000_000_000_000_000,
        calibration: Calibration::default(),
        tx_dir: None,
    };
    runtime().block_on(async {
        let Ok(mut radio) = IqFileBackend::open(config).await else {
            return;
        };
        while let Ok(Some(reception)) = radio.receive().await {
            assert!(reception.frame.payload.len() <= 255);
        }
    });
    let _ = std::fs::remove_file(&path);
});
