//! Streaming LoRa receiver: preamble detection, synchronisation (CFO / timing), dechirp + FFT
//! demodulation, header and payload decoding, SNR / RSSI measurement.
//!
//! The receiver works at one sample per chip: oversampled input goes through a decimating
//! windowed-sinc low-pass filter ([`crate::filter::Decimator`]). Windows that start between
//! two chips are read by windowed-sinc interpolation, so timing is corrected to a fraction
//! of a chip rather than folded into the tone. Decoding is soft by default
//! (per-bit LLRs from the FFT magnitudes, ML Hamming decoding) or hard ([`Decoding`]).

use crate::chirp::base_upchirp;
use crate::coding::{
    decode_header_symbols, decode_payload_layout, implicit_header, Header, Symbols,
};
use crate::error::RadioError;
use crate::filter::Decimator;
use crate::modulator::sync_word_symbols;
use crate::params::{FrameLayout, LoraParams, HEADER_BLOCK_SYMBOLS};
use num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::cell::RefCell;
use std::collections::HashMap;
use std::f64::consts::PI;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

/// Maps sample power to dBm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// A sample of power 1.0 (`|x|² = 1`) corresponds to this many dBm. Default 0.0
    /// (sample units are sqrt(milliwatts)).
    pub full_scale_dbm: f32,
}

impl Default for Calibration {
    /// 0 dBm full scale.
    fn default() -> Self {
        Calibration {
            full_scale_dbm: 0.0,
        }
    }
}

/// A received frame.
#[derive(Debug, Clone, PartialEq)]
pub struct RxFrame {
    /// Decoded (dewhitened) payload.
    pub payload: Vec<u8>,
    /// Payload CRC check; `None` when the frame had no CRC.
    pub crc_ok: Option<bool>,
    /// Spreading factor of the frame.
    pub spreading_factor: u8,
    /// Bandwidth in Hz.
    pub bandwidth_hz: u32,
    /// Coding rate 1..=4 from the header.
    pub coding_rate: u8,
    /// Measured SNR in dB (in-band, averaged over the data symbols).
    pub snr_db: f32,
    /// Measured signal power in dBm (signal only, noise removed).
    pub rssi_dbm: f32,
    /// Estimated carrier frequency offset in Hz.
    pub cfo_hz: f32,
    /// Stream index (input samples) of the first preamble sample.
    pub sample_offset: u64,
}

/// How the receiver turns symbol spectra into bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoding {
    /// Hard decisions: the strongest FFT bin per symbol, Hamming decoding by bit errors.
    Hard,
    /// Soft decisions (default): per-bit log-likelihood ratios from all FFT magnitudes
    /// (max-log over the symbol's bins), maximum-likelihood Hamming codeword match.
    #[default]
    Soft,
}

/// Natural logarithm of the modified Bessel function I0 (Abramowitz & Stegun 9.8.1/9.8.2).
fn ln_i0(x: f64) -> f64 {
    let x = x.abs();
    if x < 3.75 {
        let t = (x / 3.75).powi(2);
        (1.0 + t
            * (3.515_622_9
                + t * (3.089_942_4
                    + t * (1.206_749_2 + t * (0.265_973_2 + t * (0.036_076_8 + t * 0.004_581_3))))))
            .ln()
    } else {
        let t = 3.75 / x;
        let poly = 0.398_942_28
            + t * (0.013_285_92
                + t * (0.002_253_19
                    + t * (-0.001_575_65
                        + t * (0.009_162_81
                            + t * (-0.020_577_06
                                + t * (0.026_355_37 + t * (-0.016_476_33 + t * 0.003_923_77)))))));
        x - 0.5 * x.ln() + poly.ln()
    }
}

/// Per-bit max-log LLRs of one symbol from its dechirped spectrum (the `2^sf` bins).
///
/// `amplitude` is the expected peak magnitude and `noise` the mean noise power per bin (both in
/// unnormalised FFT units). Bin `k` is scored with the non-coherent log-likelihood
/// `ln I0(2·amplitude·|Y_k| / noise)`; the LLR of each interleaver bit is the best score among
/// bins whose bit pattern (see [`crate::coding::bin_to_bits`]) has a 1 there minus the best with a 0.
pub fn symbol_llrs(
    spec: &[Complex32],
    sf: u8,
    reduced: bool,
    amplitude: f64,
    noise: f64,
) -> Vec<f32> {
    let sf = sf.clamp(2, 16);
    let n = 1usize << sf;
    let width = usize::from(if reduced { sf - 2 } else { sf });
    // A noiseless input would make every metric infinite: floor the noise 40 dB below the peak.
    let noise = noise.max(amplitude * amplitude * 1e-4);
    let scale = if noise > 0.0 && noise.is_finite() && amplitude.is_finite() {
        2.0 * amplitude.max(0.0) / noise
    } else {
        0.0
    };
    let power = |y: &Complex32| {
        let p = y.norm_sqr();
        if p.is_finite() {
            p
        } else {
            0.0
        }
    };
    let spec = spec.get(..n).unwrap_or(spec);
    let last = spec.len().saturating_sub(1);
    // The metric grows with |Y_k|, so only the strongest bin per bit value counts. Symbol
    // value s (before Gray coding) sits in bin s + 1, or in bins 4s − 1 ..= 4s + 2 when the
    // symbol carries SF − 2 bits. Bit b of gray(s) is 1 exactly when s lies in a block of
    // 2^b values whose index is 1 or 2 mod 4, so the maxima come from a tree of block maxima:
    // about 3 · 2^width comparisons instead of one per bin and bit.
    let mut blocks: Vec<f32> = if reduced {
        // bins from n − 1 on, four by four
        let rotated: Vec<f32> = spec[last..]
            .iter()
            .chain(&spec[..last])
            .map(power)
            .collect();
        rotated
            .chunks(4)
            .map(|four| four.iter().copied().fold(0.0, f32::max))
            .collect()
    } else {
        // bins from 1 on
        spec.iter().skip(1).chain(spec.first()).map(power).collect()
    };
    blocks.resize(1 << width, 0.0);
    // best[b] = [strongest power with bit b of the Gray-coded value 0, ... 1]
    let mut best = [[0.0f32; 2]; 16];
    for slot in best.iter_mut().take(width) {
        for (i, &x) in blocks.iter().enumerate() {
            let bit = usize::from(matches!(i % 4, 1 | 2));
            slot[bit] = slot[bit].max(x);
        }
        let half = blocks.len() / 2;
        for i in 0..half {
            blocks[i] = blocks[2 * i].max(blocks[2 * i + 1]);
        }
        blocks.truncate(half);
    }
    let metric = |pow: f32| ln_i0(scale * f64::from(pow).sqrt());
    // interleaver bits come most significant first
    best[..width]
        .iter()
        .rev()
        .map(|&[zero, one]| {
            let l = metric(one) - metric(zero);
            if l.is_finite() {
                l.clamp(-1e4, 1e4) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// What a [`Receiver`] has seen so far: frames that fail their header or CRC are counted here
/// (bad-CRC frames are also returned, with `crc_ok: Some(false)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Preambles followed by a matching sync word.
    pub synchronised: u64,
    /// Explicit headers that failed their checksum (frame dropped: its length is unknown).
    pub header_errors: u64,
    /// Frames returned with a failed payload CRC.
    pub crc_errors: u64,
    /// Frames returned (good, bad CRC, or without CRC).
    pub frames: u64,
}

/// Half-length, in chips, of the interpolator that reads a window starting between two chips.
const INTERP_HALF: usize = 4;

/// Windows starting closer than this (in chips) to a whole chip are read without interpolation.
const INTERP_EXACT: f64 = 1e-3;

/// Windowed-sinc (Blackman) taps reading a stream `frac` (0 < frac < 1) of a chip after a
/// whole chip `i`: tap `t` weighs the sample at `i + t + 1 − INTERP_HALF`.
fn interpolator(frac: f64) -> [f32; 2 * INTERP_HALF] {
    let half = INTERP_HALF as f64;
    let mut taps = [0.0f32; 2 * INTERP_HALF];
    for (t, tap) in taps.iter_mut().enumerate() {
        let d = frac - (t as f64 + 1.0 - half);
        let sinc = if d.abs() < 1e-12 {
            1.0
        } else {
            (PI * d).sin() / (PI * d)
        };
        let window = 0.42 + 0.5 * (PI * d / half).cos() + 0.08 * (2.0 * PI * d / half).cos();
        *tap = (sinc * window) as f32;
    }
    taps
}

/// Share of a window's peak power the expected bin must hold for a sync-word check.
const SYNC_PEAK_SHARE: f32 = 0.5;

/// Minimum number of consecutive windows with the same dechirped peak to declare a preamble.
const MIN_RUN: usize = 4;

/// Largest sampling-clock offset the timing tracker follows, in parts per million.
const MAX_CLOCK_PPM: f64 = 40.0;

/// Timing tracker gains: per-symbol correction of the timing offset and of its drift rate
/// from each data symbol's measured lateness (a second-order loop).
const TRACK_GAIN: f64 = 0.05;
const TRACK_RATE_GAIN: f64 = 0.002;

/// Carrier tracker gain: per-symbol correction of the tone from the fractional peak position.
const TONE_GAIN: f64 = 0.05;

/// How late (in chips, within ±1) a dechirped data symbol of peak bin `k` arrived, or `None`
/// when its wrap is too near an edge to tell.
///
/// At one sample per chip a timing offset looks like a tone, except at the chirp's wrap
/// (sample `n − k`): a signal `δ` chips late steps its phase there by `2πδ`. Measured against
/// bin `k`, the tone `−δ` also turns the phase by `−πδ` between the centres of the two parts
/// (always `n / 2` apart), which leaves `πδ` between the two parts' sums.
fn lateness(dechirped: &[Complex32], k: usize) -> Option<f64> {
    let n = dechirped.len();
    let split = (n - k % n) % n;
    if split < n / 8 || split > n - n / 8 {
        return None;
    }
    let step = -2.0 * PI * k as f64 / n as f64;
    let rot = num_complex::Complex64::new(step.cos(), step.sin());
    let mut z = num_complex::Complex64::new(1.0, 0.0);
    let mut parts = [num_complex::Complex64::new(0.0, 0.0); 2];
    for (t, y) in dechirped.iter().enumerate() {
        let y = num_complex::Complex64::new(f64::from(y.re), f64::from(y.im));
        parts[usize::from(t >= split)] += y * z;
        z *= rot;
        if t % 64 == 63 {
            z /= z.norm();
        }
    }
    let turn = (parts[1] * parts[0].conj()).arg();
    turn.is_finite().then_some(turn / PI)
}

/// Whether a window peaking in bin `next` continues a preamble whose last window peaked in
/// bin `last` (of `n`). Consecutive preamble windows peak in the same bin, or one either side
/// when the tone falls between two; or two bins apart when the frame starts half-way between
/// two chips: its phase then turns by π at the chirp boundary inside every window, which
/// empties the tone's bin into the bins either side of it.
fn preamble_continues(last: usize, next: usize, n: usize) -> bool {
    let n = n.max(1);
    let dist = (next % n + n - last % n) % n;
    dist <= 2 || dist + 2 >= n
}

#[derive(Debug, Clone)]
struct FrameCtx {
    /// Chip index of the first sync-word symbol (real-valued).
    sync_start: f64,
    /// Chip index of the first data symbol (real-valued: windows are read between chips).
    data_start: f64,
    /// Residual tone (bins) to remove from every data window (carrier frequency offset).
    shift: f64,
    /// Accumulated timing drift since the first data symbol, in chips (sampling-clock offset).
    drift: f64,
    /// Timing drift per symbol, in chips.
    drift_rate: f64,
    /// Carrier frequency offset in bins.
    cfo: f64,
    header: Option<Header>,
    total_symbols: usize,
    bins: Vec<u16>,
    llrs: Vec<Vec<f32>>,
    amp_sum: f64,
    snr_sum: f64,
    sig_sum: f64,
    measured: usize,
    /// The run of data windows with the same strong peak: (bin, windows, chip index of the
    /// first). Data symbols are random; a run is the preamble of another frame.
    run: (u16, usize, u64),
    /// Where another frame's preamble showed up during this one (chip index), the place to
    /// search again if this frame fails.
    capture_at: Option<u64>,
}

impl FrameCtx {
    /// The chip at or before the first data symbol's start.
    fn first_data_chip(&self) -> u64 {
        self.data_start.max(0.0) as u64
    }
}

#[derive(Debug, Clone)]
enum State {
    Search,
    Sync { w: u64 },
    Frame(Box<FrameCtx>),
}

enum Step {
    NeedMore,
    Progress,
}

/// The FFT plan and reference chirps of one symbol size, shared by every receiver of that
/// size: the eight channels of a wideband radio hold one copy per spreading factor.
struct SymbolTables {
    fft: Arc<dyn Fft<f32>>,
    up: Vec<Complex32>,
    down: Vec<Complex32>,
}

impl SymbolTables {
    /// The tables of `n`-chip symbols, made once and kept while a receiver uses them.
    fn shared(n: usize) -> Arc<Self> {
        static CACHE: OnceLock<Mutex<HashMap<usize, Weak<SymbolTables>>>> = OnceLock::new();
        let mut cache = CACHE
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(tables) = cache.get(&n).and_then(Weak::upgrade) {
            return tables;
        }
        let up = base_upchirp(n);
        let tables = Arc::new(SymbolTables {
            fft: FftPlanner::<f32>::new().plan_fft_forward(n),
            down: up.iter().map(|c| c.conj()).collect(),
            up,
        });
        cache.retain(|_, kept| kept.strong_count() > 0);
        cache.insert(n, Arc::downgrade(&tables));
        tables
    }

    /// Transforms `data` in place, with a scratch buffer kept per thread.
    fn fft_in_place(&self, data: &mut [Complex32]) {
        thread_local! {
            static SCRATCH: RefCell<Vec<Complex32>> = const { RefCell::new(Vec::new()) };
        }
        SCRATCH.with_borrow_mut(|scratch| {
            let len = self.fft.get_inplace_scratch_len();
            if scratch.len() < len {
                scratch.resize(len, Complex32::new(0.0, 0.0));
            }
            self.fft.process_with_scratch(data, &mut scratch[..len]);
        });
    }
}

/// A streaming LoRa receiver for one (SF, bandwidth) configuration.
pub struct Receiver {
    params: LoraParams,
    calibration: Calibration,
    n: usize,
    os: usize,
    layout: FrameLayout,
    sync: (u16, u16),
    tables: Arc<SymbolTables>,
    /// The filtered stream, `sub` samples per chip.
    buf: Vec<Complex32>,
    /// Samples per chip in `buf`: 2 when the input is oversampled by an even factor (windows
    /// between chips are then read from a stream sampled above its band), else 1.
    sub: usize,
    /// Chip index of `buf[0]`.
    base: u64,
    decimator: Decimator,
    state: State,
    search_pos: u64,
    run_len: usize,
    run_bin: usize,
    det_threshold: f32,
    /// Detection threshold on a peak and its stronger neighbour, over the mean bin power.
    pair_threshold: f32,
    decoding: Decoding,
    stats: RxStats,
    out: Vec<RxFrame>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("params", &self.params)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Wraps a bin offset into `[-n/2, n/2)`.
fn wrap(x: f64, n: f64) -> f64 {
    (x + n / 2.0).rem_euclid(n) - n / 2.0
}

/// The sample, or zero when either part is not finite (a NaN or an infinity from a file or a
/// device must not spread through the filters and FFTs).
fn finite_or_zero(sample: Complex32) -> Complex32 {
    if sample.re.is_finite() && sample.im.is_finite() {
        sample
    } else {
        Complex32::new(0.0, 0.0)
    }
}

/// Drops the samples of `buf` (`sub` samples per chip, chip `base` first) before chip `keep`,
/// a quarter of the buffer or more at a time, which bounds both the memory (what is kept plus a
/// third) and the copying (each sample moves about three times); gives back capacity beyond
/// `slack` samples once the buffer has shrunk to less than half of it.
fn drop_before(buf: &mut Vec<Complex32>, base: &mut u64, keep: u64, sub: usize, slack: usize) {
    let chips = buf.len() / sub;
    let drop = keep.saturating_sub(*base) as usize;
    if drop > 0 && drop >= chips / 4 {
        let drop = drop.min(chips);
        buf.drain(..drop * sub);
        *base += drop as u64;
    }
    if buf.capacity() > 2 * buf.len() + 2 * slack {
        buf.shrink_to(buf.len() + slack);
    }
}

/// A stream at one sample per chip read by several receivers (the spreading factors of one
/// channel of a [`crate::channelizer::MultiReceiver`]): one buffer holding the longest
/// history any of them needs, instead of one buffer per receiver.
#[derive(Debug, Default)]
pub(crate) struct SharedStream {
    buf: Vec<Complex32>,
    /// Chip index of `buf[0]`.
    base: u64,
}

impl SharedStream {
    /// Appends samples, non-finite ones as zeros.
    pub(crate) fn push(&mut self, samples: &[Complex32]) {
        self.buf.reserve_exact(samples.len());
        self.buf.extend(samples.iter().copied().map(finite_or_zero));
    }

    /// Drops what no reader needs: the samples before chip `keep`, keeping `slack` samples of
    /// spare capacity.
    pub(crate) fn trim(&mut self, keep: u64, slack: usize) {
        drop_before(&mut self.buf, &mut self.base, keep, 1, slack);
    }

    /// Empties the stream after a flush, its next sample being the one after the last.
    pub(crate) fn restart(&mut self) {
        self.base += self.buf.len() as u64;
        self.buf = Vec::new();
    }
}

impl Receiver {
    /// Creates a receiver (soft decoding). With `params.explicit_header` false it receives
    /// implicit-header frames of `params.implicit_payload_len` bytes at `params.coding_rate`
    /// with `params.crc`.
    pub fn new(params: LoraParams, calibration: Calibration) -> Result<Self, RadioError> {
        params.validate()?;
        let n = params.chips_per_symbol();
        let mask = (n - 1) as u16;
        let (s1, s2) = sync_word_symbols(params.sync_word);
        let os = params.oversampling as usize;
        let sub = if os % 2 == 0 { 2 } else { 1 };
        Ok(Receiver {
            params,
            calibration,
            n,
            os: params.oversampling as usize,
            layout: params.layout(),
            sync: (s1 & mask, s2 & mask),
            tables: SymbolTables::shared(n),
            buf: Vec::new(),
            sub,
            base: 0,
            decimator: Decimator::with_step(os, os / sub),
            state: State::Search,
            search_pos: 0,
            run_len: 0,
            run_bin: 0,
            det_threshold: (n as f32).ln() + 2.0,
            pair_threshold: (n as f32).ln() + (n as f32).ln().ln() + 2.0,
            decoding: Decoding::default(),
            stats: RxStats::default(),
            out: Vec::new(),
        })
    }

    /// Chooses hard or soft decision decoding (soft by default).
    pub fn with_decoding(mut self, decoding: Decoding) -> Self {
        self.decoding = decoding;
        self
    }

    /// Counters of synchronised frames, header and CRC failures.
    pub fn stats(&self) -> RxStats {
        self.stats
    }

    /// The decoding mode in use.
    pub fn decoding(&self) -> Decoding {
        self.decoding
    }

    /// The parameters this receiver listens for.
    pub fn params(&self) -> &LoraParams {
        &self.params
    }

    /// Feeds samples (any chunk size) and returns the frames completed so far.
    pub fn process(&mut self, samples: &[Complex32]) -> Vec<RxFrame> {
        self.ingest(samples);
        self.run();
        std::mem::take(&mut self.out)
    }

    /// Ends the stream: finishes a frame in progress (padding with silence) and resets the
    /// receiver's buffer. Stream indices keep counting from where the input stopped.
    pub fn flush(&mut self) -> Vec<RxFrame> {
        let real_end = self.end();
        for _ in 0..4 {
            let needed = match &self.state {
                State::Search => break,
                State::Sync { w } => w + self.sync_span(),
                State::Frame(ctx) => {
                    // one symbol more: the timing tracker may have moved the windows later
                    ctx.first_data_chip()
                        + ((ctx
                            .header
                            .map(|_| ctx.total_symbols)
                            .unwrap_or(HEADER_BLOCK_SYMBOLS)
                            + 1)
                            * self.n) as u64
                }
            };
            let missing = needed.saturating_sub(self.end()) as usize * self.sub;
            self.buf
                .extend(std::iter::repeat_n(Complex32::new(0.0, 0.0), missing));
            self.run();
        }
        self.buf.clear();
        self.base = real_end;
        self.search_pos = real_end;
        self.state = State::Search;
        self.run_len = 0;
        self.decimator.reset();
        std::mem::take(&mut self.out)
    }

    fn end(&self) -> u64 {
        self.base + (self.buf.len() / self.sub) as u64
    }

    fn sync_span(&self) -> u64 {
        ((usize::from(self.params.preamble_len) + 9 + self.params.zero_symbols_after_sync())
            * self.n) as u64
    }

    fn ingest(&mut self, samples: &[Complex32]) {
        let finite = |s: &Complex32| s.re.is_finite() && s.im.is_finite();
        let before = self.buf.len();
        // Exactly what this input needs: a doubling Vec would hold up to twice the history.
        self.buf
            .reserve_exact(samples.len() / self.decimator.factor() + 1);
        if samples.iter().all(finite) {
            self.decimator.process(samples, &mut self.buf);
        } else {
            let clean: Vec<Complex32> = samples.iter().copied().map(finite_or_zero).collect();
            self.decimator.process(&clean, &mut self.buf);
        }
        for v in &mut self.buf[before..] {
            *v = finite_or_zero(*v);
        }
    }

    /// Runs on `stream`, a stream at one sample per chip that other receivers read too,
    /// instead of a buffer of its own: the stream's buffer is lent to the receiver for the
    /// call. The caller keeps what [`Receiver::needed_from`] asks for of every receiver.
    pub(crate) fn process_shared(&mut self, stream: &mut SharedStream) -> Vec<RxFrame> {
        debug_assert!(self.sub == 1 && self.decimator.factor() == 1 && self.os == 1);
        std::mem::swap(&mut self.buf, &mut stream.buf);
        self.base = stream.base;
        self.run_steps();
        std::mem::swap(&mut self.buf, &mut stream.buf);
        std::mem::take(&mut self.out)
    }

    /// [`Receiver::flush`] of a receiver run by [`Receiver::process_shared`]: finishes its
    /// frame in progress on a copy of the stream.
    pub(crate) fn flush_shared(&mut self, stream: &SharedStream) -> Vec<RxFrame> {
        self.buf.clone_from(&stream.buf);
        self.base = stream.base;
        let frames = self.flush();
        self.buf = Vec::new();
        frames
    }

    fn run(&mut self) {
        self.run_steps();
        self.trim();
    }

    fn run_steps(&mut self) {
        loop {
            let step = match std::mem::replace(&mut self.state, State::Search) {
                State::Search => self.step_search(),
                State::Sync { w } => self.step_sync(w),
                State::Frame(ctx) => self.step_frame(ctx),
            };
            if let Step::NeedMore = step {
                break;
            }
        }
    }

    /// Drops the samples no state can return to, and gives back the memory a long frame took.
    /// While a frame is decoded the receiver keeps its header (a bad header resumes the search
    /// after the sync word) and then only the last windows, or the preamble of another frame
    /// seen during it.
    fn trim(&mut self) {
        let keep = self.needed_from();
        drop_before(
            &mut self.buf,
            &mut self.base,
            keep,
            self.sub,
            2 * self.n * self.sub,
        );
    }

    /// The first chip that any state of the receiver can still return to.
    pub(crate) fn needed_from(&self) -> u64 {
        let n = self.n as u64;
        let hist = 6 * n;
        match &self.state {
            State::Search => self.search_pos.saturating_sub(hist),
            State::Sync { w } => w.saturating_sub(hist),
            State::Frame(ctx) => {
                let current = ctx.first_data_chip() + ctx.bins.len() as u64 * n;
                let from = match (
                    ctx.header.is_some() && ctx.bins.len() >= HEADER_BLOCK_SYMBOLS,
                    ctx.capture_at,
                ) {
                    (_, Some(at)) => at.min(current),
                    (true, None) => current,
                    (false, None) => ctx.first_data_chip(),
                };
                from.saturating_sub(hist)
            }
        }
    }

    /// The `n` samples of the window starting at chip index `pos`, read between chips
    /// (windowed-sinc interpolation) when `pos` is not whole; `None` if not buffered.
    fn window(&self, pos: f64) -> Option<Vec<Complex32>> {
        if !pos.is_finite() || pos < 0.0 {
            return None;
        }
        // in samples of `buf`
        let at = pos * self.sub as f64;
        let mut whole = at.floor();
        let mut frac = at - whole;
        if frac > 1.0 - INTERP_EXACT {
            whole += 1.0;
            frac = 0.0;
        }
        let whole = whole as u64;
        let (n, sub) = (self.n, self.sub);
        let base = self.base * sub as u64;
        if frac < INTERP_EXACT {
            let start = usize::try_from(whole.checked_sub(base)?).ok()?;
            let span = self.buf.get(start..start + sub * (n - 1) + 1)?;
            return Some(if sub == 1 {
                span.to_vec()
            } else {
                span.iter().step_by(sub).copied().collect()
            });
        }
        let first = whole.checked_sub(base + INTERP_HALF as u64 - 1)?;
        let first = usize::try_from(first).ok()?;
        let span = self
            .buf
            .get(first..first + sub * (n - 1) + 2 * INTERP_HALF)?;
        let taps = interpolator(frac);
        // Tap by tap over the whole window: each pass adds one scaled (strided) slice, as
        // plain f32 arithmetic that vectorises.
        let mut out = vec![Complex32::new(0.0, 0.0); n];
        let out_f: &mut [f32] = bytemuck::cast_slice_mut(&mut out);
        let span_f: &[f32] = bytemuck::cast_slice(span);
        for (t, &tap) in taps.iter().enumerate() {
            let from = &span_f[2 * t..];
            if sub == 1 {
                for (o, x) in out_f.iter_mut().zip(from) {
                    *o += x * tap;
                }
            } else {
                for (o, x) in out_f.chunks_exact_mut(2).zip(from.chunks(2 * sub)) {
                    o[0] += x[0] * tap;
                    o[1] += x.get(1).copied().unwrap_or(0.0) * tap;
                }
            }
        }
        Some(out)
    }

    /// Dechirps the window starting at chip index `pos` with `reference`, removes a tone of
    /// `shift` bins and returns its spectrum (unnormalised FFT), or `None` if not buffered.
    fn spectrum(&mut self, pos: f64, up_reference: bool, shift: f64) -> Option<Vec<Complex32>> {
        let mut v = self.dechirp(pos, up_reference, shift)?;
        self.tables.fft_in_place(&mut v);
        Some(v)
    }

    /// The window starting at chip index `pos`, dechirped with `reference` and without a tone
    /// of `shift` bins (time domain), or `None` if not buffered.
    fn dechirp(&mut self, pos: f64, up_reference: bool, shift: f64) -> Option<Vec<Complex32>> {
        let mut v = self.window(pos)?;
        let reference = if up_reference {
            &self.tables.up
        } else {
            &self.tables.down
        };
        if shift == 0.0 {
            for (x, r) in v.iter_mut().zip(reference) {
                *x *= r;
            }
        } else {
            // A phasor recurrence in f32 instead of a sin/cos per sample, restarted every
            // block from a recurrence in f64 so that rounding cannot accumulate.
            const BLOCK: usize = 64;
            let step = -2.0 * PI * shift.rem_euclid(self.n as f64) / self.n as f64;
            let rot = Complex32::new(step.cos() as f32, step.sin() as f32);
            let block_step = step * BLOCK as f64;
            let block_rot = num_complex::Complex64::new(block_step.cos(), block_step.sin());
            let mut block_start = num_complex::Complex64::new(1.0, 0.0);
            for (xs, rs) in v.chunks_mut(BLOCK).zip(reference.chunks(BLOCK)) {
                let mut z = Complex32::new(block_start.re as f32, block_start.im as f32);
                for (x, r) in xs.iter_mut().zip(rs) {
                    *x *= r * z;
                    z *= rot;
                }
                block_start *= block_rot;
            }
        }
        Some(v)
    }

    /// Peak bin, its power, and the mean power of the other bins.
    fn peak(spec: &[Complex32]) -> (usize, f32, f32) {
        let mut best = (0usize, -1.0f32);
        let mut total = 0.0f32;
        for (k, c) in spec.iter().enumerate() {
            let p = c.norm_sqr();
            total += p;
            if p > best.1 {
                best = (k, p);
            }
        }
        let others = ((total - best.1) / (spec.len().max(2) - 1) as f32).max(0.0);
        (best.0, best.1.max(0.0), others)
    }

    /// Whether a dechirped window carries symbol `target`: a bin within ±2 of it holds at
    /// least half the window's peak power. Near the noise floor a noise bin often beats the
    /// symbol's; requiring the symbol to be the peak would miss most sync words there.
    fn carries(spec: &[Complex32], target: u16) -> bool {
        let n = spec.len();
        let peak = spec.iter().map(|c| c.norm_sqr()).fold(0.0f32, f32::max);
        let near = (0..=4).map(|d| spec[(usize::from(target) + n + d - 2) % n].norm_sqr());
        peak > 0.0 && near.fold(0.0f32, f32::max) >= SYNC_PEAK_SHARE * peak
    }

    /// Fractional position in `[-0.5, 0.5]` of the tone around peak bin `k` (Jacobsen's
    /// estimator on the complex spectrum).
    fn fractional_peak(spec: &[Complex32], k: usize) -> f64 {
        let n = spec.len();
        if n < 3 || k >= n {
            return 0.0;
        }
        let xm = spec[(k + n - 1) % n];
        let xk = spec[k];
        let xp = spec[(k + 1) % n];
        let den = xk * 2.0 - xm - xp;
        let delta = if den.norm_sqr() > 0.0 {
            ((xm - xp) / den).re
        } else {
            0.0
        };
        if delta.is_finite() {
            f64::from(delta).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    }

    /// Frequency (in bins, in `[-n/2, n/2)`) of the dominant tone after dechirping the window
    /// at `pos`, refined by Jacobsen interpolation around an initial guess `guess`.
    fn fine_tone(&mut self, pos: f64, up_reference: bool, guess: f64) -> Option<f64> {
        let nf = self.n as f64;
        let mut shift = guess;
        for _ in 0..3 {
            let spec = self.spectrum(pos, up_reference, shift)?;
            let (k, _, _) = Self::peak(&spec);
            let delta = Self::fractional_peak(&spec, k);
            let kk = wrap(k as f64, nf);
            shift = wrap(shift + kk + delta, nf);
            // With the peak in the guessed bin, the interpolated offset is already within
            // 1e-4 of a bin of the tone (rectangular window, |offset| ≤ 0.5): another pass
            // would only measure the same noise again.
            if kk == 0.0 {
                break;
            }
        }
        Some(shift)
    }

    fn step_search(&mut self) -> Step {
        let n = self.n as u64;
        if self.search_pos < self.base {
            self.search_pos = self.base;
        }
        while self.search_pos + n <= self.end() {
            let w = self.search_pos;
            let Some(spec) = self.spectrum(w as f64, false, 0.0) else {
                break;
            };
            self.search_pos += n;
            let (k, pk, others) = Self::peak(&spec);
            // A window across a chirp boundary, when the frame starts between two chips,
            // splits the preamble's peak over two neighbouring bins: detect on their sum.
            let neighbour = spec[(k + 1) % self.n]
                .norm_sqr()
                .max(spec[(k + self.n - 1) % self.n].norm_sqr());
            let pair = pk + neighbour;
            let valid = pair.is_finite() && pk > 0.0 && pair > self.pair_threshold * others;
            let close = preamble_continues(self.run_bin, k, self.n);
            if valid && self.run_len > 0 && close {
                self.run_len += 1;
            } else if valid {
                self.run_len = 1;
            } else {
                self.run_len = 0;
            }
            self.run_bin = k;
            if self.run_len >= MIN_RUN {
                self.run_len = 0;
                self.state = State::Sync { w };
                return Step::Progress;
            }
        }
        self.state = State::Search;
        Step::NeedMore
    }

    fn step_sync(&mut self, w: u64) -> Step {
        if self.end() < w + self.sync_span() {
            self.state = State::Sync { w };
            return Step::NeedMore;
        }
        match self.synchronise(w) {
            Some(ctx) => {
                self.stats.synchronised += 1;
                self.state = State::Frame(Box::new(ctx));
            }
            None => {
                self.state = State::Search;
                self.search_pos = self.search_pos.max(w + self.n as u64);
            }
        }
        Step::Progress
    }

    /// Frame synchronisation from a detected preamble window `w`: find the sync word, then
    /// estimate CFO and timing from the up-chirps and the down-chirps.
    fn synchronise(&mut self, w: u64) -> Option<FrameCtx> {
        let n = self.n;
        let nf = n as f64;
        let pre = usize::from(self.params.preamble_len);
        // Up-chirp tone at w: offset-into-symbol + CFO.
        let f_w = self.fine_tone(w as f64, false, 0.0)?;
        let f_mod = f_w.rem_euclid(nf);
        let k_int = f_mod.round();
        let frac = f_mod - k_int;
        // Coarse grid on which preamble up-chirps dechirp to bin 0.
        let (g0, frac) = self.best_grid_phase(w as f64 - k_int, frac);
        // Per window: does it carry (a preamble chirp, the first, the second sync symbol)?
        let targets = [0, self.sync.0, self.sync.1];
        let mut carries: Vec<[bool; 3]> = Vec::with_capacity(pre + 5);
        let mut sync_k = None;
        for k in 0..(pre + 4) {
            let spec = self.spectrum(g0 + (k * n) as f64, false, frac)?;
            carries.push(targets.map(|target| Self::carries(&spec, target)));
            if k >= 2 && carries[k - 2][0] && carries[k - 1][1] && carries[k][2] {
                sync_k = Some(k - 1);
                break;
            }
        }
        let sync_k = sync_k?;
        if sync_k == 0 {
            return None;
        }
        // Coarse start of the first sync symbol, on the grid where the preamble dechirps to
        // bin 0: off the true start by the CFO (in chips) and a fraction of a chip.
        let s = g0 + (sync_k * n) as f64;
        // First estimate from windows well inside the preamble and the down-chirps.
        let (cfo, sync_start) =
            self.timing_and_cfo(s - 2.0 * nf, s + 2.5 * nf, frac, |cfo| s + cfo)?;
        // Then again from windows on the chirps' boundaries: a window across a boundary sees
        // the two chirps' phases apart by the fractional timing offset, which biases its tone.
        let (cfo, sync_start) = self
            .timing_and_cfo(sync_start - 2.0 * nf, sync_start + 2.0 * nf, cfo, |_| {
                sync_start
            })
            .unwrap_or((cfo, sync_start));
        let to_data = self.params.sync_to_data_symbols();
        let data = sync_start + to_data * nf;
        if !data.is_finite() || data < 0.0 {
            return None;
        }
        let data_start = data;
        let (shift, drift_rate) = self.refine_on_preamble(data_start, cfo);
        let drift = drift_rate * self.params.sync_to_data_symbols();
        let (header, total_symbols) = if self.params.explicit_header {
            (None, HEADER_BLOCK_SYMBOLS)
        } else {
            let h = implicit_header(&self.params);
            let total = self
                .layout
                .symbol_count(h.coding_rate, h.has_crc, h.payload_len);
            (Some(h), total)
        };
        Some(FrameCtx {
            sync_start,
            data_start,
            shift,
            drift,
            drift_rate,
            cfo,
            header,
            total_symbols,
            bins: Vec::new(),
            llrs: Vec::new(),
            amp_sum: 0.0,
            snr_sum: 0.0,
            sig_sum: 0.0,
            measured: 0,
            run: (0, 0, 0),
            capture_at: None,
        })
    }

    /// The grid a fraction of a chip after `grid` (and its preamble tone after `tone`) on
    /// which the preamble windows before `grid` peak highest. A window across a chirp boundary
    /// loses up to 3.9 dB when the frame starts half-way between chips, enough to miss the
    /// sync word near the noise floor; of four grids a quarter of a chip apart, one loses
    /// under 0.3 dB.
    fn best_grid_phase(&mut self, grid: f64, tone: f64) -> (f64, f64) {
        let nf = self.n as f64;
        let mut best = (0.0, -1.0f32);
        for quarter in 0..4 {
            let phase = f64::from(quarter) / 4.0;
            let power: f32 = (0..2)
                .filter_map(|j| {
                    let spec =
                        self.spectrum(grid + phase - f64::from(j) * nf, false, tone + phase)?;
                    Some(Self::peak(&spec).1)
                })
                .sum();
            if power > best.1 {
                best = (phase, power);
            }
        }
        (grid + best.0, tone + best.0)
    }

    /// Carrier frequency offset (bins) and the start of the first sync symbol (chips) from
    /// the tones of two preamble up-chirp windows ending at `up_window + n` and two down-chirp
    /// windows from `down_window` (`up_guess`: the up-chirps' expected tone). `expected`
    /// gives, for a CFO, where the sync word should start, to pick among the candidates a
    /// symbol apart.
    fn timing_and_cfo(
        &mut self,
        up_window: f64,
        down_window: f64,
        up_guess: f64,
        expected: impl Fn(f64) -> f64,
    ) -> Option<(f64, f64)> {
        let nf = self.n as f64;
        let fa = self.fine_tone(up_window, false, up_guess)?;
        let f_up = match self.fine_tone(up_window - nf, false, fa) {
            Some(fb) => fa + wrap(fb - fa, nf) / 2.0,
            None => fa,
        };
        let fq = self.fine_tone(down_window, true, 0.0)?;
        let f_down = match self.fine_tone(down_window + nf, true, fq) {
            Some(fr) => fq + wrap(fr - fq, nf) / 2.0,
            None => fq,
        };
        // With e the up-chirp window's offset into its symbol:
        // f_up = e + cfo, f_down = cfo − e − (down_window − up_window)  (mod n)
        let x = (f_up + f_down + (down_window - up_window)).rem_euclid(nf);
        let cfo = if x / 2.0 < nf / 4.0 {
            x / 2.0
        } else {
            x / 2.0 - nf / 2.0
        };
        let e_up = (f_up - cfo).rem_euclid(nf);
        let boundary = up_window - e_up; // a true up-chirp boundary
        let m = ((expected(cfo) - boundary) / nf).round();
        let sync_start = boundary + m * nf;
        sync_start.is_finite().then_some((cfo, sync_start))
    }

    /// Refines the residual tone on the preamble windows aligned with the data grid, and
    /// estimates the timing drift per symbol (sampling-clock offset) from the slope of that
    /// tone along the preamble. Returns the carrier's tone and the drift rate.
    fn refine_on_preamble(&mut self, data_start: f64, shift: f64) -> (f64, f64) {
        let nf = self.n as f64;
        let sync_grid = data_start - self.params.sync_to_data_symbols() * nf;
        // (symbols before the sync word, tone offset) of the clean preamble windows
        let mut points = Vec::new();
        for j in 1..=usize::from(self.params.preamble_len) {
            let pos = sync_grid - j as f64 * nf;
            if pos < self.base as f64 {
                break;
            }
            if let Some(f) = self.fine_tone(pos, false, shift) {
                let d = wrap(f - shift, nf);
                if d.abs() < 1.0 {
                    points.push((j as f64, d));
                }
            }
        }
        let count = points.len() as f64;
        if count == 0.0 {
            return (shift, 0.0);
        }
        let mean_j = points.iter().map(|p| p.0).sum::<f64>() / count;
        let mean_d = points.iter().map(|p| p.1).sum::<f64>() / count;
        let sxx: f64 = points.iter().map(|p| (p.0 - mean_j).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - mean_j) * (p.1 - mean_d)).sum();
        let max_rate = MAX_CLOCK_PPM * 1e-6 * nf;
        // j counts backwards in time: the drift per symbol is minus the slope.
        let rate = if count >= 4.0 && sxx > 0.0 {
            (-sxy / sxx).clamp(-max_rate, max_rate)
        } else {
            0.0
        };
        // the tone at the sync word (j = 0) is the carrier's
        let at_sync = mean_d - rate * mean_j;
        (shift + at_sync, rate)
    }

    fn step_frame(&mut self, mut ctx: Box<FrameCtx>) -> Step {
        let n = self.n;
        let nf = n as f32;
        let max_rate = MAX_CLOCK_PPM * 1e-6 * f64::from(nf);
        while ctx.bins.len() < ctx.total_symbols {
            // The window follows the timing drift, read between chips where it falls there.
            let pos = ctx.data_start + (ctx.bins.len() * n) as f64 - ctx.drift;
            let Some(dechirped) = self.dechirp(pos, false, ctx.shift) else {
                self.state = State::Frame(ctx);
                return Step::NeedMore;
            };
            let mut spec = dechirped.clone();
            self.tables.fft_in_place(&mut spec);
            let (k, pk, others) = Self::peak(&spec);
            let strong = pk > self.det_threshold * others;
            if strong && ctx.capture_at.is_none() {
                let window = pos.max(0.0) as u64;
                ctx.run = if ctx.run.1 > 0 && preamble_continues(usize::from(ctx.run.0), k, n) {
                    (k as u16, ctx.run.1 + 1, ctx.run.2)
                } else {
                    (k as u16, 1, window)
                };
                if ctx.run.1 >= MIN_RUN {
                    ctx.capture_at = Some(ctx.run.2);
                }
            } else if !strong {
                ctx.run.1 = 0;
            }
            if strong {
                ctx.shift += TONE_GAIN * Self::fractional_peak(&spec, k);
                if let Some(late) = lateness(&dechirped, k) {
                    ctx.drift_rate =
                        (ctx.drift_rate - TRACK_RATE_GAIN * late).clamp(-max_rate, max_rate);
                    ctx.drift -= TRACK_GAIN * late;
                }
            }
            ctx.drift =
                (ctx.drift + ctx.drift_rate).clamp(-f64::from(nf) / 8.0, f64::from(nf) / 8.0);
            ctx.bins.push(k as u16);
            if self.decoding == Decoding::Soft {
                let reduced = self.layout.symbol_reduced(ctx.bins.len() - 1);
                ctx.amp_sum += f64::from((pk - others).max(0.0)).sqrt();
                let amplitude = ctx.amp_sum / ctx.bins.len() as f64;
                ctx.llrs.push(symbol_llrs(
                    &spec,
                    self.params.spreading_factor,
                    reduced,
                    amplitude,
                    f64::from(others),
                ));
            }
            let sig = f64::from(((pk - others) / (nf * nf)).max(0.0));
            let noise = f64::from(others / nf);
            if noise > 0.0 && sig.is_finite() {
                ctx.snr_sum += sig / noise;
            } else if sig > 0.0 {
                ctx.snr_sum += 1e6;
            }
            ctx.sig_sum += sig;
            ctx.measured += 1;
            if ctx.header.is_none() && ctx.bins.len() == HEADER_BLOCK_SYMBOLS {
                let sf = self.params.spreading_factor;
                let symbols = self.symbols(&ctx);
                match decode_header_symbols(&symbols, sf) {
                    Some((h, _)) => {
                        ctx.total_symbols =
                            self.layout
                                .symbol_count(h.coding_rate, h.has_crc, h.payload_len);
                        ctx.header = Some(h);
                    }
                    None => {
                        self.stats.header_errors += 1;
                        // Not a frame of ours (or a damaged header): resume the search after the sync word.
                        self.search_pos = (ctx.sync_start.max(0.0) as u64) + 2 * n as u64;
                        self.state = State::Search;
                        return Step::Progress;
                    }
                }
            }
        }
        self.search_pos = if self.finish(&ctx) {
            ctx.first_data_chip() + (ctx.total_symbols * n) as u64
        } else {
            // A failed frame may have been hit by a stronger one that started during it:
            // search again from that frame's preamble, or from just after this frame's sync
            // word as far back as the buffer still holds.
            let after_sync = (ctx.sync_start.max(0.0) as u64) + 2 * n as u64;
            match ctx.capture_at {
                Some(at) => at.saturating_sub(2 * n as u64).max(self.base),
                None => after_sync.max(self.base),
            }
        };
        self.state = State::Search;
        Step::Progress
    }

    fn symbols<'a>(&self, ctx: &'a FrameCtx) -> Symbols<'a> {
        match self.decoding {
            Decoding::Hard => Symbols::Hard {
                sf: self.params.spreading_factor,
                bins: &ctx.bins,
            },
            Decoding::Soft => Symbols::Soft(&ctx.llrs),
        }
    }

    /// Decodes the frame's payload and queues it; false when it could not be decoded or
    /// failed its CRC.
    fn finish(&mut self, ctx: &FrameCtx) -> bool {
        let Some(header) = ctx.header else {
            return false;
        };
        let sf = self.params.spreading_factor;
        let symbols = self.symbols(ctx);
        let Ok(decoded) = decode_payload_layout(&symbols, &self.layout, &header) else {
            self.stats.header_errors += 1;
            return false;
        };
        let good = decoded.crc_ok != Some(false);
        self.stats.frames += 1;
        if decoded.crc_ok == Some(false) {
            self.stats.crc_errors += 1;
        }
        let m = ctx.measured.max(1) as f64;
        let snr = ctx.snr_sum / m;
        let sig = ctx.sig_sum / m;
        let snr_db = if snr > 0.0 {
            10.0 * snr.log10()
        } else {
            -100.0
        };
        let rssi_dbm = if sig > 0.0 {
            10.0 * sig.log10()
        } else {
            -300.0
        } + f64::from(self.calibration.full_scale_dbm);
        let nf = self.n as f64;
        let pre_start = ctx.sync_start - f64::from(self.params.preamble_len) * nf;
        let sample_offset = (pre_start * self.os as f64).round().max(0.0) as u64;
        self.out.push(RxFrame {
            payload: decoded.payload,
            crc_ok: decoded.crc_ok,
            spreading_factor: sf,
            bandwidth_hz: self.params.bandwidth_hz,
            coding_rate: header.coding_rate,
            snr_db: snr_db as f32,
            rssi_dbm: rssi_dbm as f32,
            cfo_hz: (ctx.cfo * f64::from(self.params.bandwidth_hz) / nf) as f32,
            sample_offset,
        });
        good
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::coding::bin_to_bits;

    /// The LLRs computed the direct way: every bin's bits taken with `bin_to_bits`.
    fn llrs_by_definition(
        spec: &[Complex32],
        sf: u8,
        reduced: bool,
        amplitude: f64,
        noise: f64,
    ) -> Vec<f32> {
        let width = usize::from(if reduced { sf - 2 } else { sf });
        let noise = noise.max(amplitude * amplitude * 1e-4);
        let scale = 2.0 * amplitude / noise;
        let metric = |pow: f32| ln_i0(scale * f64::from(pow).sqrt());
        (0..width)
            .map(|j| {
                let best = |bit: u16| {
                    spec.iter()
                        .enumerate()
                        .filter(|(k, _)| {
                            (bin_to_bits(*k as u16, sf, reduced) >> (width - 1 - j)) & 1 == bit
                        })
                        .map(|(_, y)| y.norm_sqr())
                        .fold(0.0f32, f32::max)
                };
                (metric(best(1)) - metric(best(0))).clamp(-1e4, 1e4) as f32
            })
            .collect()
    }

    #[test]
    fn llrs_match_their_definition() {
        let mut state = 0x1234_5678u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32) - 0.5
        };
        for sf in 5..=12u8 {
            let n = 1usize << sf;
            for reduced in [false, true] {
                let mut spec: Vec<Complex32> =
                    (0..n).map(|_| Complex32::new(next(), next())).collect();
                spec[n / 3] = Complex32::new(3.0, -2.0);
                let fast = symbol_llrs(&spec, sf, reduced, 3.0, 0.5);
                let slow = llrs_by_definition(&spec, sf, reduced, 3.0, 0.5);
                assert_eq!(fast.len(), slow.len());
                for (a, b) in fast.iter().zip(&slow) {
                    assert!(
                        (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                        "SF{sf} {a} vs {b}"
                    );
                }
                assert!(fast.iter().any(|l| l.abs() > 1.0));
            }
        }
    }

    #[test]
    fn a_long_frame_is_decoded_without_buffering_all_of_it() {
        let params = LoraParams {
            oversampling: 1,
            ..LoraParams::new(10, 125_000)
        };
        let payload: Vec<u8> = (0..=254u8).collect();
        let mut stream = vec![Complex32::new(0.0, 0.0); 4_000];
        stream.extend(crate::modulator::modulate(&params, &payload).unwrap());
        stream.extend(vec![Complex32::new(0.0, 0.0); 8_000]);
        let mut receiver = Receiver::new(params, Calibration::default()).unwrap();
        let n = receiver.n;
        let mut frames = Vec::new();
        let mut most_buffered = 0;
        for chunk in stream.chunks(1_000) {
            frames.extend(receiver.process(chunk));
            most_buffered = most_buffered.max(receiver.buf.capacity());
        }
        frames.extend(receiver.flush());
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].payload, payload);
        assert_eq!(frames[0].crc_ok, Some(true));
        let frame_windows = stream.len() / n;
        assert!(
            most_buffered <= 40 * n,
            "buffered {} windows of a {frame_windows}-window stream",
            most_buffered / n
        );
    }
}
