//! Density scales of a grid of hotspots, both rules: HIP-104's hexes and the place shared by
//! distance (`shared_density_scales`, 840 m). Usage:
//! `cargo bench -p h3-coverage --bench density -- [HOTSPOTS] [SPACING_DEG]` (default 100 000
//! hotspots 0.02° apart, about 2 km: the oracle's throughput benchmark's network; 0.004° puts
//! several within each other's reach).

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let hotspots: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let spacing: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0.02);
    let side = (hotspots as f64).sqrt().ceil() as usize;
    let grid: Vec<(usize, h3_coverage::CellIndex)> = (0..hotspots)
        .filter_map(|i| {
            let lat = 26.0 + (i / side) as f64 * spacing;
            let lon = -100.0 + (i % side) as f64 * spacing;
            Some((i, h3_coverage::cell_at(lat, lon).ok()?))
        })
        .collect();
    let time = |name: &str, scales: &dyn Fn() -> std::collections::BTreeMap<usize, f64>| {
        let started = Instant::now();
        let total: f64 = scales().values().sum();
        let seconds = started.elapsed().as_secs_f64();
        println!("{name:<9} {hotspots} hotspots {spacing}° apart: {seconds:.3} s (scales sum to {total:.1})");
    };
    time("hexes", &|| {
        h3_coverage::density_scales(&grid, &h3_coverage::hip104_levels())
    });
    time("distance", &|| {
        h3_coverage::shared_density_scales(&grid, &h3_coverage::hip104_coarse_levels(), 840.0)
    });
}
