//! Real coordinates in San Francisco where the simulated hotspots stand.

/// A named place: `(name, latitude, longitude)`.
pub type Site = (&'static str, f64, f64);

/// Places in San Francisco, in the order hotspots are put on them. The public library sits
/// about 250 m from City Hall, close enough that the two may not witness each other.
pub const SAN_FRANCISCO: &[Site] = &[
    ("city-hall", 37.77929, -122.41924),
    ("ferry-building", 37.79554, -122.39365),
    ("coit-tower", 37.80239, -122.40582),
    ("palace-of-fine-arts", 37.80286, -122.44838),
    ("de-young", 37.77147, -122.46869),
    ("twin-peaks", 37.75443, -122.44769),
    ("mission-dolores", 37.76442, -122.42705),
    ("oracle-park", 37.77857, -122.38928),
    ("public-library", 37.77850, -122.41580),
    ("ucsf-parnassus", 37.76310, -122.45820),
    ("cliff-house", 37.77846, -122.51410),
    ("sf-zoo", 37.73286, -122.50306),
    ("sf-state", 37.72410, -122.47810),
    ("glen-canyon", 37.73840, -122.44230),
    ("bernal-heights", 37.74280, -122.41420),
    ("potrero-hill", 37.76490, -122.39950),
    ("hunters-point", 37.72880, -122.37140),
    ("candlestick-point", 37.71380, -122.38480),
    ("mclaren-park", 37.71840, -122.42070),
    ("presidio", 37.80000, -122.45850),
    ("richmond", 37.78040, -122.48460),
    ("sunset", 37.76370, -122.47720),
    ("noe-valley", 37.75020, -122.43370),
    ("japantown", 37.78540, -122.42970),
    ("treasure-island", 37.82380, -122.37060),
    ("union-square", 37.78800, -122.40750),
    ("fishermans-wharf", 37.80800, -122.41770),
    ("lands-end", 37.78760, -122.50510),
    ("haight-ashbury", 37.76990, -122.44690),
    ("dogpatch", 37.75830, -122.38810),
    ("excelsior", 37.72440, -122.43330),
    ("castro", 37.76090, -122.43500),
    ("marina-green", 37.80570, -122.43810),
    ("alta-plaza", 37.79100, -122.43710),
    ("yerba-buena", 37.78500, -122.40220),
    ("mission-24th", 37.75230, -122.41840),
    ("stonestown", 37.72820, -122.47650),
    ("visitacion-valley", 37.71310, -122.40480),
    ("chase-center", 37.76797, -122.38750),
    ("chinatown", 37.79410, -122.40780),
];

/// The `index`-th site; past the end of the list, sites repeat with a deterministic offset of
/// a few hundred metres so that any number of hotspots gets a distinct place in the city.
pub fn site(index: usize) -> (String, f64, f64) {
    let (name, lat, lon) = SAN_FRANCISCO[index % SAN_FRANCISCO.len()];
    let round = index / SAN_FRANCISCO.len();
    if round == 0 {
        return (name.to_string(), lat, lon);
    }
    let angle = round as f64 * 2.399_963; // golden angle: offsets never line up
    let radius_deg = 0.004 * (1.0 + round as f64).sqrt();
    (
        format!("{name}-{round}"),
        lat + radius_deg * angle.sin(),
        lon + radius_deg * angle.cos() / lat.to_radians().cos(),
    )
}
