use super::*;
use proptest::prelude::*;

fn payer() -> String {
    poc_keys::Keypair::from_seed(7, 1).address().to_string()
}

fn id(text: &str) -> RouteId {
    RouteId::new(text).unwrap()
}

fn route(name: &str) -> Route {
    Route {
        id: id(name),
        payer: payer(),
        endpoint: Endpoint::Gwmp {
            host: "lns.example".into(),
            port: 1700,
        },
        dev_addr_ranges: Vec::new(),
        euis: Vec::new(),
        max_copies: 1,
        active: true,
    }
}

fn with_ranges(name: &str, ranges: &[(u32, u32)]) -> Route {
    Route {
        dev_addr_ranges: (ranges.iter())
            .map(|&(start, end)| DevAddrRange { start, end })
            .collect(),
        ..route(name)
    }
}

fn with_euis(name: &str, euis: &[(u64, Option<u64>)]) -> Route {
    Route {
        euis: (euis.iter())
            .map(|&(join_eui, dev_eui)| EuiFilter { join_eui, dev_eui })
            .collect(),
        ..route(name)
    }
}

fn data(dev_addr: u32) -> RoutingKey {
    RoutingKey::Data { dev_addr, fcnt: 0 }
}

fn join(join_eui: u64, dev_eui: u64) -> RoutingKey {
    RoutingKey::Join { join_eui, dev_eui }
}

fn matched(table: &RouteTable, key: RoutingKey) -> Option<&str> {
    table.route_for(&key).map(|route| route.id.as_str())
}

#[test]
fn route_ids_are_1_to_64_safe_characters() {
    assert!(RouteId::new("a").is_ok());
    assert!(RouteId::new("Acme_lns-1.eu").is_ok());
    assert!(RouteId::new("x".repeat(64)).is_ok());
    assert_eq!(RouteId::new(""), Err(RouteIdError::Empty));
    assert_eq!(RouteId::new("x".repeat(65)), Err(RouteIdError::TooLong(65)));
    assert_eq!(RouteId::new("a b"), Err(RouteIdError::Character(' ')));
    assert_eq!(RouteId::new("é"), Err(RouteIdError::Character('é')));
    assert_eq!(RouteId::new("a/b"), Err(RouteIdError::Character('/')));
}

#[test]
fn data_uplinks_go_to_the_route_of_their_dev_addr() {
    let table = RouteTable::new(vec![
        with_ranges(
            "a",
            &[(0x4800_0000, 0x4800_00FF), (0x4800_0200, 0x4800_02FF)],
        ),
        with_ranges("b", &[(0x4800_0100, 0x4800_01FF)]),
        with_ranges("c", &[(0, 0), (u32::MAX, u32::MAX)]),
    ])
    .unwrap();
    assert_eq!(matched(&table, data(0x4800_0000)), Some("a"));
    assert_eq!(matched(&table, data(0x4800_00FF)), Some("a"));
    assert_eq!(matched(&table, data(0x4800_0100)), Some("b"));
    assert_eq!(matched(&table, data(0x4800_01FF)), Some("b"));
    assert_eq!(matched(&table, data(0x4800_0250)), Some("a"));
    assert_eq!(matched(&table, data(0)), Some("c"));
    assert_eq!(matched(&table, data(u32::MAX)), Some("c"));
    assert_eq!(matched(&table, data(1)), None);
    assert_eq!(matched(&table, data(0x4800_0300)), None);
    assert_eq!(matched(&table, data(0x47FF_FFFF)), None);
    assert_eq!(matched(&table, join(0, 0)), None);
}

#[test]
fn join_requests_go_to_the_route_of_their_euis() {
    let table = RouteTable::new(vec![
        with_euis("any", &[(0x70B3_D57E_D000_0000, None)]),
        with_euis("one", &[(1, Some(0x0004_A30B_001C_0530)), (1, Some(7))]),
    ])
    .unwrap();
    assert_eq!(matched(&table, join(0x70B3_D57E_D000_0000, 5)), Some("any"));
    assert_eq!(matched(&table, join(0x70B3_D57E_D000_0000, 0)), Some("any"));
    assert_eq!(matched(&table, join(1, 0x0004_A30B_001C_0530)), Some("one"));
    assert_eq!(matched(&table, join(1, 7)), Some("one"));
    assert_eq!(matched(&table, join(1, 8)), None);
    assert_eq!(matched(&table, join(2, 7)), None);
    assert_eq!(matched(&table, data(1)), None);
}

#[test]
fn inactive_routes_match_nothing() {
    let mut sleeping = with_ranges("sleeping", &[(10, 20)]);
    sleeping.euis.push(EuiFilter {
        join_eui: 3,
        dev_eui: None,
    });
    sleeping.active = false;
    let table = RouteTable::new(vec![sleeping, with_ranges("awake", &[(21, 30)])]).unwrap();
    assert_eq!(matched(&table, data(15)), None);
    assert_eq!(matched(&table, join(3, 1)), None);
    assert_eq!(matched(&table, data(21)), Some("awake"));
    assert_eq!(table.len(), 2);
    assert!(table.get("sleeping").is_some_and(|r| r.claims(&data(15))));
}

#[test]
fn duplicate_ids_are_refused() {
    let error = RouteTable::new(vec![route("a"), route("b"), route("a")]).unwrap_err();
    assert_eq!(error, RouteError::DuplicateId(id("a")));
}

#[test]
fn a_range_that_starts_after_it_ends_is_refused() {
    let error = RouteTable::new(vec![with_ranges("r", &[(1, 2), (9, 8)])]).unwrap_err();
    assert_eq!(
        error,
        RouteError::RangeReversed {
            route: id("r"),
            start: 9,
            end: 8
        }
    );
    assert!(
        error.to_string().contains("00000009 to 00000008"),
        "{error}"
    );
}

#[test]
fn overlapping_ranges_of_two_routes_name_both_and_the_overlap() {
    let error = RouteTable::new(vec![
        with_ranges("late", &[(0x4800_0080, 0x4800_01FF)]),
        with_ranges("early", &[(0x4800_0000, 0x4800_00FF)]),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        RouteError::DevAddrOverlap {
            first: id("early"),
            second: id("late"),
            start: 0x4800_0080,
            end: 0x4800_00FF
        }
    );
    let text = error.to_string();
    assert!(text.contains("48000080 to 480000FF"), "{text}");
    assert!(text.contains("early") && text.contains("late"), "{text}");
}

#[test]
fn a_range_inside_an_earlier_wider_one_overlaps() {
    let error = RouteTable::new(vec![
        with_ranges("after", &[(50, 60)]),
        with_ranges("inner", &[(10, 20)]),
        with_ranges("wide", &[(0, 100)]),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        RouteError::DevAddrOverlap {
            first: id("wide"),
            second: id("inner"),
            start: 10,
            end: 20
        }
    );
}

#[test]
fn ranges_of_one_route_may_not_overlap_but_may_touch() {
    assert!(RouteTable::new(vec![with_ranges("r", &[(0, 9), (10, 19)])]).is_ok());
    let error = RouteTable::new(vec![with_ranges("r", &[(0, 10), (10, 19)])]).unwrap_err();
    assert_eq!(
        error,
        RouteError::DevAddrOverlap {
            first: id("r"),
            second: id("r"),
            start: 10,
            end: 10
        }
    );
}

#[test]
fn inactive_routes_still_hold_their_claims() {
    let mut sleeping = with_ranges("sleeping", &[(0, 10)]);
    sleeping.active = false;
    let error = RouteTable::new(vec![sleeping, with_ranges("new", &[(5, 6)])]).unwrap_err();
    assert!(
        matches!(error, RouteError::DevAddrOverlap { .. }),
        "{error}"
    );
    let mut sleeping = with_euis("sleeping", &[(1, None)]);
    sleeping.active = false;
    let error = RouteTable::new(vec![sleeping, with_euis("new", &[(1, Some(2))])]).unwrap_err();
    assert!(matches!(error, RouteError::EuiOverlap { .. }), "{error}");
}

#[test]
fn the_same_eui_filter_twice_is_refused() {
    let error = RouteTable::new(vec![
        with_euis("a", &[(1, Some(2))]),
        with_euis("b", &[(1, Some(3)), (1, Some(2))]),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        RouteError::EuiOverlap {
            first: id("a"),
            second: id("b"),
            join_eui: 1,
            dev_eui: Some(2)
        }
    );
    assert!(error.to_string().contains("DevEUI 0000000000000002"));
}

#[test]
fn an_any_device_filter_overlaps_every_filter_of_its_join_eui() {
    let error = RouteTable::new(vec![
        with_euis("specific", &[(1, Some(9))]),
        with_euis("any", &[(1, None)]),
    ])
    .unwrap_err();
    assert_eq!(
        error,
        RouteError::EuiOverlap {
            first: id("any"),
            second: id("specific"),
            join_eui: 1,
            dev_eui: Some(9)
        }
    );
    let error = RouteTable::new(vec![
        with_euis("a", &[(1, None)]),
        with_euis("b", &[(1, None)]),
    ])
    .unwrap_err();
    assert!(error.to_string().contains("any DevEUI"), "{error}");
    assert!(RouteTable::new(vec![
        with_euis("a", &[(1, None)]),
        with_euis("b", &[(2, None), (3, Some(1))]),
    ])
    .is_ok());
}

#[test]
fn zero_copies_are_refused() {
    let error = RouteTable::new(vec![Route {
        max_copies: 0,
        ..route("r")
    }])
    .unwrap_err();
    assert_eq!(error, RouteError::MaxCopies { route: id("r") });
}

#[test]
fn a_payer_must_be_a_key_address() {
    let mut other = payer().into_bytes();
    other[10] = if other[10] == b'a' { b'b' } else { b'a' };
    let bad = [
        String::new(),
        "not base58: 0OIl".into(),
        "3mJr7AoUXx2Wqd".into(),
        String::from_utf8(other).unwrap(),
    ];
    for payer in bad {
        let error = RouteTable::new(vec![Route {
            payer: payer.clone(),
            ..route("r")
        }])
        .unwrap_err();
        assert!(
            matches!(&error, RouteError::Payer { route, payer: p, .. } if route.as_str() == "r" && *p == payer),
            "{payer:?}: {error}"
        );
    }
    assert_eq!(
        route("r").payer_address().unwrap(),
        poc_keys::Keypair::from_seed(7, 1).address()
    );
}

#[test]
fn an_endpoint_needs_a_host_and_a_port() {
    for (host, port, reason) in [
        ("", 1700, "host is empty"),
        ("  ", 1700, "host is empty"),
        (
            "lns example",
            1700,
            "host has white space or characters other than printable ASCII",
        ),
        (
            "lns\u{0}.example",
            1700,
            "host has white space or characters other than printable ASCII",
        ),
        (
            "lns.exämple",
            1700,
            "host has white space or characters other than printable ASCII",
        ),
        ("lns.example", 0, "port is 0"),
    ] {
        let error = RouteTable::new(vec![Route {
            endpoint: Endpoint::Gwmp {
                host: host.into(),
                port,
            },
            ..route("r")
        }])
        .unwrap_err();
        assert_eq!(
            error,
            RouteError::Endpoint {
                route: id("r"),
                reason
            }
        );
    }
}

#[test]
fn an_empty_table_matches_nothing() {
    let table = RouteTable::new(Vec::new()).unwrap();
    assert!(table.is_empty());
    assert_eq!(matched(&table, data(0)), None);
    assert_eq!(matched(&table, join(0, 0)), None);
}

mod file;

/// Sorted distinct boundaries, paired into disjoint ranges, each given to one of `routes`
/// routes, some inactive.
fn disjoint_routes() -> impl Strategy<Value = Vec<Route>> {
    (
        proptest::collection::btree_set(any::<u32>(), 0..40),
        proptest::collection::vec((0usize..5, any::<bool>()), 20),
        proptest::collection::vec(any::<bool>(), 5),
    )
        .prop_map(|(bounds, owners, active)| {
            let bounds: Vec<u32> = bounds.into_iter().collect();
            let mut routes: Vec<Route> = (0..5)
                .map(|i| Route {
                    active: active[i],
                    ..route(&format!("r{i}"))
                })
                .collect();
            for (pair, &(owner, single)) in bounds.chunks_exact(2).zip(&owners) {
                let end = if single { pair[0] } else { pair[1] };
                routes[owner].dev_addr_ranges.push(DevAddrRange {
                    start: pair[0],
                    end,
                });
            }
            routes
        })
}

proptest! {
    #[test]
    fn lookup_equals_a_linear_scan(routes in disjoint_routes(), probes in proptest::collection::vec(any::<u32>(), 50)) {
        let table = RouteTable::new(routes.clone()).unwrap();
        let edges = routes.iter().flat_map(|r| &r.dev_addr_ranges).flat_map(|r| {
            [r.start, r.end, r.start.wrapping_sub(1), r.end.wrapping_add(1)]
        });
        for dev_addr in probes.into_iter().chain(edges) {
            let key = data(dev_addr);
            let scan = routes.iter().find(|r| r.active && r.claims(&key));
            prop_assert_eq!(table.route_for(&key), scan, "DevAddr {:08X}", dev_addr);
        }
    }

    #[test]
    fn two_ranges_are_accepted_exactly_when_disjoint(a in any::<(u32, u32)>(), b in any::<(u32, u32)>()) {
        let (a, b) = ((a.0.min(a.1), a.0.max(a.1)), (b.0.min(b.1), b.0.max(b.1)));
        let table = RouteTable::new(vec![with_ranges("a", &[a]), with_ranges("b", &[b])]);
        let disjoint = a.1 < b.0 || b.1 < a.0;
        prop_assert_eq!(table.is_ok(), disjoint);
        if let Err(RouteError::DevAddrOverlap { start, end, .. }) = table {
            prop_assert_eq!((start, end), (a.0.max(b.0), a.1.min(b.1)));
        }
    }

    #[test]
    fn eui_lookup_equals_a_linear_scan(
        filters in proptest::collection::btree_map((0u64..4, 0u64..4), 0usize..3, 0..10),
        probes in proptest::collection::vec((0u64..5, 0u64..5), 30),
    ) {
        // Specific filters only (distinct by construction), plus any-device filters for
        // JoinEUIs 10.. so that both kinds are looked up.
        let mut routes: Vec<Route> = (0..3).map(|i| route(&format!("r{i}"))).collect();
        for (&(join_eui, dev_eui), &owner) in &filters {
            routes[owner].euis.push(EuiFilter { join_eui, dev_eui: Some(dev_eui) });
            routes[owner].euis.push(EuiFilter { join_eui: 10 + join_eui * 4 + dev_eui, dev_eui: None });
        }
        let table = RouteTable::new(routes.clone()).unwrap();
        for (join_eui, dev_eui) in probes.into_iter().flat_map(|(j, d)| [(j, d), (10 + j * 4 + d, d)]) {
            let key = join(join_eui, dev_eui);
            let scan = routes.iter().find(|r| r.claims(&key));
            prop_assert_eq!(table.route_for(&key), scan);
        }
    }
}
