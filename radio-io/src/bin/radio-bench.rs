//! `radio-bench`: packet error rate versus SNR (AWGN, random CFO and timing; hard and soft
//! decoding) and demodulator throughput on one core. Run it in release mode:
//!
//! `cargo run --release -p radio-io --bin radio-bench -- --frames 1000 --csv per.csv --png per.png`

use anyhow::{Context, Result};
use clap::Parser;
use radio::channel::{propagate, ChannelConditions};
use radio::channelizer::{MultiReceiver, Resampler};
use radio::{modulate, Calibration, Complex32, Decoding, LoraParams, Receiver};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::time::Instant;

/// Semtech SX127x demodulator SNR limits at 125 kHz, SF7..SF12.
const SX127X_LIMIT_DB: [f64; 6] = [-7.5, -10.0, -12.5, -15.0, -17.5, -20.0];

#[derive(Parser)]
#[command(
    name = "radio-bench",
    about = "LoRa PHY benchmarks: PER vs SNR and throughput"
)]
struct Cli {
    /// Frames per (SF, SNR) point.
    #[arg(long, default_value_t = 1000)]
    frames: usize,
    /// Spreading factors to measure, comma separated.
    #[arg(long, default_value = "7,8,9,10,11,12", value_delimiter = ',')]
    sf: Vec<u8>,
    /// SNR offsets in dB relative to the SX127x limit of each SF.
    #[arg(
        long,
        default_value = "-4,-3,-2,-1,0,1,2",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    offsets: Vec<f64>,
    /// Payload length in bytes.
    #[arg(long, default_value_t = 16)]
    len: usize,
    /// Samples per chip of the PER sweep's frames: their random delay in samples puts them at
    /// random fractions of a chip (1: whole chips only).
    #[arg(long, default_value_t = 4)]
    oversampling: u32,
    /// Also write the PER table as CSV to this file.
    #[arg(long)]
    csv: Option<String>,
    /// Also plot the PER curves into this PNG file.
    #[arg(long)]
    png: Option<String>,
    /// TrueType font for the plot's text (Debian: fonts-dejavu-core).
    #[arg(
        long,
        default_value = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    )]
    font: String,
    /// Skip the PER sweep.
    #[arg(long)]
    no_per: bool,
    /// Skip the throughput measurement.
    #[arg(long)]
    no_throughput: bool,
    /// Spreading factors of the throughput measurement, comma separated.
    #[arg(long, default_value = "7,12", value_delimiter = ',')]
    throughput_sf: Vec<u8>,
    /// Seconds of air in each throughput stream.
    #[arg(long, default_value_t = 20.0)]
    air_seconds: f64,
    /// Times each throughput stream is decoded; the median rate is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Skip the channelizer measurement.
    #[arg(long)]
    no_channelizer: bool,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const NOISE_DBM: f64 = -100.0;

/// Fraction of frames lost (hard, soft) at one SNR.
fn per_point(
    p: &LoraParams,
    snr_db: f64,
    frames: usize,
    len: usize,
    rng: &mut StdRng,
) -> Result<(f64, f64)> {
    let mut lost = [0usize; 2];
    let sps = p.samples_per_symbol();
    for _ in 0..frames {
        let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let tx = modulate(p, &data)?;
        // the noise is spread over the oversampled band
        let os_db = 10.0 * f64::from(p.oversampling).log10();
        let cond = ChannelConditions {
            rx_power_dbm: NOISE_DBM + snr_db - os_db,
            noise_floor_dbm: NOISE_DBM,
            cfo_hz: rng.gen_range(-15_000.0..15_000.0),
            delay_samples: rng.gen_range(sps..3 * sps),
            trailing_samples: 2 * sps,
        };
        let rx = propagate(&tx, p.sample_rate(), &cond, rng);
        for (i, decoding) in [Decoding::Hard, Decoding::Soft].into_iter().enumerate() {
            let mut r = Receiver::new(*p, Calibration::default())?.with_decoding(decoding);
            let mut got = r.process(&rx);
            got.extend(r.flush());
            if !got
                .iter()
                .any(|f| f.crc_ok == Some(true) && f.payload == data)
            {
                lost[i] += 1;
            }
        }
    }
    let n = frames.max(1) as f64;
    Ok((lost[0] as f64 / n, lost[1] as f64 / n))
}

/// One measured point: SF, SNR, PER hard, PER soft.
type Point = (u8, f64, f64, f64);

fn per_sweep(cli: &Cli) -> Result<Vec<Point>> {
    let mut points = Vec::new();
    let mut rng = StdRng::seed_from_u64(cli.seed);
    let mut csv = match &cli.csv {
        Some(path) => {
            let mut f = std::fs::File::create(path).with_context(|| format!("creating {path}"))?;
            writeln!(f, "sf,snr_db,per_hard,per_soft")?;
            Some(f)
        }
        None => None,
    };
    println!(
        "PER vs SNR, 125 kHz, CR 4/5, {} bytes, {} frames/point, CFO ±15 kHz, random timing \
         ({} samples per chip)",
        cli.len, cli.frames, cli.oversampling
    );
    println!(
        "{:>4} {:>8} {:>9} {:>9}",
        "SF", "SNR dB", "PER hard", "PER soft"
    );
    for &sf in &cli.sf {
        let p = LoraParams {
            oversampling: cli.oversampling,
            ..LoraParams::new(sf, 125_000)
        };
        p.validate()?;
        let limit = SX127X_LIMIT_DB[usize::from(sf.clamp(7, 12) - 7)];
        let mut soft_10 = None;
        let mut curve = Vec::new();
        for &off in &cli.offsets {
            let snr = limit + off;
            let (hard, soft) = per_point(&p, snr, cli.frames, cli.len, &mut rng)?;
            println!("{sf:>4} {snr:>8.1} {hard:>9.3} {soft:>9.3}");
            points.push((sf, snr, hard, soft));
            curve.push((snr, hard, soft));
            if let Some(f) = csv.as_mut() {
                writeln!(f, "{sf},{snr},{hard},{soft}")?;
            }
            if soft <= 0.1 && soft_10.is_none() {
                soft_10 = Some(snr);
            }
        }
        let at = |soft: bool| {
            let c: Vec<(f64, f64)> = curve
                .iter()
                .map(|&(snr, h, s)| (snr, if soft { s } else { h }))
                .collect();
            snr_at_per(&c, 0.1).map_or("-".to_string(), |x| format!("{x:.1} dB"))
        };
        println!(
            "     SF{sf}: 10 % PER at (interpolated) hard {}, soft {}",
            at(false),
            at(true)
        );
        match soft_10 {
            Some(s) => {
                println!("     SF{sf}: soft PER ≤ 10 % from {s:.1} dB (SX127x limit {limit:.1} dB)")
            }
            None => println!(
                "     SF{sf}: soft PER above 10 % on the whole grid (SX127x limit {limit:.1} dB)"
            ),
        }
    }
    Ok(points)
}

/// SNR at which the PER curve (points in increasing SNR) first falls to `target`,
/// interpolated linearly in SNR against log PER; `None` if it never crosses.
fn snr_at_per(curve: &[(f64, f64)], target: f64) -> Option<f64> {
    let log = |p: f64| p.max(1e-6).log10();
    curve.windows(2).find_map(|w| {
        let ((x0, p0), (x1, p1)) = (w[0], w[1]);
        if p0 > target && p1 <= target {
            let f = (log(target) - log(p0)) / (log(p1) - log(p0));
            Some(x0 + f * (x1 - x0))
        } else {
            None
        }
    })
}

/// Plots PER (log scale) against SNR: soft decoding thick, hard decoding thin, one colour per SF.
#[cfg(feature = "plot")]
fn plot(points: &[Point], frames: usize, png: &str, font: &str) -> Result<()> {
    use plotters::prelude::*;
    let bytes = std::fs::read(font).with_context(|| format!("reading font {font}"))?;
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| anyhow::anyhow!("{font} is not a usable TrueType font"))?;
    let floor = 0.5 / frames.max(1) as f64;
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    anyhow::ensure!(lo.is_finite() && hi.is_finite(), "nothing to plot");
    let root = BitMapBackend::new(png, (1000, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "LoRa PER vs SNR, 125 kHz, CR 4/5 (thick: soft, thin: hard)",
            ("sans-serif", 24),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((lo - 0.5)..(hi + 0.5), (floor..1.0).log_scale())?;
    chart
        .configure_mesh()
        .y_label_formatter(&|v| format!("{v:.3}"))
        .x_desc("SNR (dB)")
        .y_desc("packet error rate")
        .draw()?;
    let mut sfs: Vec<u8> = points.iter().map(|p| p.0).collect();
    sfs.dedup();
    for (i, sf) in sfs.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        let curve = |soft: bool| -> Vec<(f64, f64)> {
            points
                .iter()
                .filter(|p| p.0 == *sf)
                .map(|p| (p.1, (if soft { p.3 } else { p.2 }).max(floor)))
                .collect()
        };
        chart
            .draw_series(LineSeries::new(curve(true), colour.stroke_width(3)))?
            .label(format!("SF{sf}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
            });
        chart.draw_series(LineSeries::new(curve(false), colour.stroke_width(1)))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    println!("PER plot written to {png}");
    Ok(())
}

/// Without the `plot` feature there is no plotting code: say so instead of writing nothing.
#[cfg(not(feature = "plot"))]
fn plot(_: &[Point], _: usize, png: &str, _: &str) -> Result<()> {
    anyhow::bail!("cannot write {png}: radio-bench was built without the `plot` feature")
}

/// Samples per second the receiver processes on a continuous stream of frames with noise.
fn throughput(sf: u8, seconds_of_air: f64, runs: usize, rng: &mut StdRng) -> Result<(f64, f64)> {
    let p = LoraParams::new(sf, 125_000);
    let fs = p.sample_rate();
    let mut stream = Vec::new();
    let sps = p.samples_per_symbol();
    while (stream.len() as f64) < seconds_of_air * fs {
        let data: Vec<u8> = (0..16).map(|_| rng.gen()).collect();
        let tx = modulate(&p, &data)?;
        let cond = ChannelConditions {
            rx_power_dbm: NOISE_DBM + 5.0,
            noise_floor_dbm: NOISE_DBM,
            cfo_hz: rng.gen_range(-10_000.0..10_000.0),
            delay_samples: rng.gen_range(sps..4 * sps),
            trailing_samples: 0,
        };
        stream.extend(propagate(&tx, fs, &cond, rng));
    }
    let mut rates = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let mut r = Receiver::new(p, Calibration::default())?;
        let start = Instant::now();
        let mut frames = 0;
        for chunk in stream.chunks(16_384) {
            frames += r.process(chunk).len();
        }
        frames += r.flush().len();
        let elapsed = start.elapsed().as_secs_f64().max(1e-9);
        anyhow::ensure!(frames > 0, "no frame decoded in the throughput stream");
        rates.push(stream.len() as f64 / elapsed);
    }
    rates.sort_by(f64::total_cmp);
    let rate = rates[rates.len() / 2];
    Ok((rate / 1e6, rate / fs))
}

/// CPU share of one core to channelize a 1.6 MS/s stream into 8 channels and decode SF7–12
/// on all of them (noise plus one frame per channel).
fn channelizer_share(seconds: f64, rng: &mut StdRng) -> Result<(f64, usize)> {
    const FS: u32 = 1_600_000;
    let mut multi = MultiReceiver::new(
        FS,
        200_000,
        125_000,
        &[7, 8, 9, 10, 11, 12],
        LoraParams::new(7, 125_000),
        Decoding::Soft,
    )?;
    let n = (seconds * f64::from(FS)) as usize;
    let normal = rand_distr::Normal::new(0.0f32, 0.5).context("noise")?;
    let mut stream: Vec<Complex32> = (0..n)
        .map(|_| Complex32::new(rng.sample(normal), rng.sample(normal)))
        .collect();
    for k in 0..multi.channels() {
        let sf = 7 + (k % 6) as u8;
        let p = LoraParams {
            oversampling: 2,
            ..LoraParams::new(sf, 125_000)
        };
        let tx = modulate(&p, &[k as u8; 8])?;
        let mut wide = Vec::new();
        Resampler::new(32, 5).process(&tx, &mut wide);
        let freq = multi.channel_offset_hz(k);
        for (i, s) in wide.iter().enumerate().take(n) {
            let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(FS);
            stream[i] += s * Complex32::new(ph.cos() as f32, ph.sin() as f32);
        }
    }
    let start = Instant::now();
    let mut frames = 0;
    for chunk in stream.chunks(65_536) {
        frames += multi.process(chunk).len();
    }
    frames += multi.flush().len();
    Ok((start.elapsed().as_secs_f64() / seconds, frames))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if !cli.no_per {
        let points = per_sweep(&cli)?;
        if let Some(png) = &cli.png {
            plot(&points, cli.frames, png, &cli.font)?;
        }
    }
    if !cli.no_throughput {
        let mut rng = StdRng::seed_from_u64(cli.seed ^ 0x5EED);
        println!(
            "Throughput, one core, soft decoding, continuous stream with detection \
             ({} s of air, median of {} runs):",
            cli.air_seconds, cli.runs
        );
        for &sf in &cli.throughput_sf {
            let (msps, realtime) = throughput(sf, cli.air_seconds, cli.runs, &mut rng)?;
            println!("  SF{sf}/125 kHz: {msps:.2} MS/s = {realtime:.0}× real time");
        }
    }
    if !cli.no_channelizer {
        let mut rng = StdRng::seed_from_u64(cli.seed ^ 0xC4A7);
        let (share, frames) = channelizer_share(4.0, &mut rng)?;
        println!(
            "Channelizer + 8 channels × SF7–12 at 1.6 MS/s: {:.1} % of one core ({frames} frames)",
            100.0 * share
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::snr_at_per;

    #[test]
    fn ten_percent_crossing_is_interpolated_in_log_per() {
        let curve = [(-10.0, 1.0), (-9.0, 0.5), (-8.0, 0.02), (-7.0, 0.0)];
        let x = snr_at_per(&curve, 0.1).expect("crossing");
        // log10(0.1) lies half-way between log10(0.5) ≈ −0.30 and log10(0.02) ≈ −1.70
        assert!((x - (-8.5)).abs() < 0.01, "{x}");
        assert_eq!(snr_at_per(&[(-10.0, 0.9), (-9.0, 0.5)], 0.1), None);
    }
}
