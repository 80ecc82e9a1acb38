//! Fuzz target: text as a route file (`routing::RouteTable::from_toml`). Nothing may panic; a
//! table that reads writes back (`to_toml`) to a file that reads as the same table, and finds
//! for every DevAddr and EUI it names the route a linear scan of its active routes finds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routing::{RouteTable, RoutingKey};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(table) = RouteTable::from_toml(text) else {
        return;
    };
    let written = table.to_toml().expect("a checked table writes");
    assert_eq!(RouteTable::from_toml(&written).as_ref(), Ok(&table));
    for key in keys(&table) {
        let scan = (table.routes().iter()).find(|route| route.active && route.claims(&key));
        assert_eq!(table.route_for(&key), scan, "{key:?}");
    }
});

/// The DevAddrs at and beside every range's ends, and the EUIs of every filter.
fn keys(table: &RouteTable) -> Vec<RoutingKey> {
    let mut keys = Vec::new();
    for route in table.routes() {
        for range in &route.dev_addr_ranges {
            for dev_addr in [
                range.start,
                range.end,
                range.start.wrapping_sub(1),
                range.end.wrapping_add(1),
            ] {
                keys.push(RoutingKey::Data { dev_addr, fcnt: 0 });
            }
        }
        for filter in &route.euis {
            let dev_eui = filter.dev_eui.unwrap_or(0x0123_4567_89AB_CDEF);
            keys.push(RoutingKey::Join {
                join_eui: filter.join_eui,
                dev_eui,
            });
            keys.push(RoutingKey::Join {
                join_eui: filter.join_eui,
                dev_eui: dev_eui.wrapping_add(1),
            });
        }
    }
    keys
}
