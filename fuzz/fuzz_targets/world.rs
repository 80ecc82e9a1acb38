//! Fuzz target: world files (`netsim::world::World::parse`, what `devnet --world FILE` reads).
//! Nothing may panic; a world that parses can place its scenarios' hotspots and gives each
//! site an antenna.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(world) = netsim::world::World::parse(text, "fuzz") else {
        return;
    };
    for mix in [false, true] {
        let hotspots = world.scenario_hotspots(mix);
        let attackers = world.attackers_among(hotspots);
        let placement = world
            .placement(hotspots - attackers, attackers)
            .expect("a valid world places its scenarios");
        assert_eq!(placement.honest.len() + placement.attackers.len(), hotspots);
    }
    for site in &world.sites {
        let _ = site.antenna();
    }
    let (lat, lon) = world.centre();
    assert!(lat.is_finite() && lon.is_finite());
});
