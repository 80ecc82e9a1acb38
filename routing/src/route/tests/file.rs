//! Route files (TOML) and the API's JSON.

use super::*;

const EXAMPLE: &str = include_str!("../../../routes.example.toml");

/// A file of one route with `extra` lines added to its table.
fn one_route(extra: &str) -> String {
    format!(
        "[[route]]\nid = \"r\"\npayer = \"{}\"\nendpoint = {{ protocol = \"gwmp\", host = \"h\", port = 1 }}\nmax_copies = 1\n{extra}\n",
        payer()
    )
}

fn field_error(text: &str) -> (String, String, String) {
    match RouteTable::from_toml(text) {
        Err(RouteError::Field {
            route,
            field,
            message,
        }) => (route, field, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn the_example_file_reads_and_routes() {
    let table = RouteTable::from_toml(EXAMPLE).unwrap();
    assert_eq!(table.len(), 2);
    let acme = table.get("acme-lns").unwrap();
    assert_eq!(
        acme.dev_addr_ranges[1],
        DevAddrRange {
            start: 0x4800_0200,
            end: 0x4800_02FF
        }
    );
    assert_eq!(
        acme.euis,
        [
            EuiFilter {
                join_eui: 0x70B3_D57E_D000_0000,
                dev_eui: None
            },
            EuiFilter {
                join_eui: 1,
                dev_eui: Some(0x0004_A30B_001C_0530)
            }
        ]
    );
    assert_eq!(acme.max_copies, 2);
    assert!(acme.active);
    assert_eq!(
        acme.endpoint,
        Endpoint::Gwmp {
            host: "lns.acme.example".into(),
            port: 1700
        }
    );
    assert_eq!(matched(&table, data(0x4800_0210)), Some("acme-lns"));
    assert_eq!(
        matched(&table, join(0x70B3_D57E_D000_0000, 42)),
        Some("acme-lns")
    );
    let metering = table.get("metering.eu-1").unwrap();
    assert!(!metering.active);
    assert_eq!(matched(&table, data(0x2601_1BDA)), None);
}

#[test]
fn toml_and_json_round_trip() {
    let table = RouteTable::from_toml(EXAMPLE).unwrap();
    let text = table.to_toml().unwrap();
    assert!(text.contains("\"480000FF\""), "{text}");
    assert_eq!(RouteTable::from_toml(&text).unwrap(), table);
    let json = serde_json::to_string(&table).unwrap();
    assert!(json.contains("\"join_eui\":\"70B3D57ED0000000\""), "{json}");
    assert!(json.contains("\"protocol\":\"gwmp\""), "{json}");
    assert_eq!(serde_json::from_str::<RouteTable>(&json).unwrap(), table);
}

#[test]
fn json_of_overlapping_routes_is_refused() {
    let json = serde_json::to_value(vec![
        with_ranges("a", &[(0, 10)]),
        with_ranges("b", &[(10, 20)]),
    ])
    .unwrap();
    let error = serde_json::from_value::<RouteTable>(json).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("are claimed by route a and by route b"),
        "{error}"
    );
}

#[test]
fn hex_is_read_in_either_case_at_its_full_width() {
    let table = RouteTable::from_toml(&one_route(
        "dev_addr_ranges = [{ start = \"26011bda\", end = \"26011BDB\" }]\neuis = [{ join_eui = \"70b3d57ed0000000\", dev_eui = \"ffffffffffffffff\" }]",
    ))
    .unwrap();
    assert_eq!(matched(&table, data(0x2601_1BDB)), Some("r"));
    assert_eq!(
        matched(&table, join(0x70B3_D57E_D000_0000, u64::MAX)),
        Some("r")
    );
    for (bad, field) in [
        (
            "dev_addr_ranges = [{ start = \"2601BDA\", end = \"26011BDA\" }]",
            "dev_addr_ranges[0].start",
        ),
        (
            "dev_addr_ranges = [{ start = \"26011BDA\", end = \"0x26011B\" }]",
            "dev_addr_ranges[0].end",
        ),
        (
            "dev_addr_ranges = [{ start = \"+6011BDA\", end = \"26011BDA\" }]",
            "dev_addr_ranges[0].start",
        ),
        (
            "dev_addr_ranges = [{ start = 5, end = \"26011BDA\" }]",
            "dev_addr_ranges[0].start",
        ),
        (
            "euis = [{ join_eui = \"70B3D57ED000000\" }]",
            "euis[0].join_eui",
        ),
        (
            "euis = [{ join_eui = \"70B3D57ED0000000\", dev_eui = \"\" }]",
            "euis[0].dev_eui",
        ),
    ] {
        let (route, got, message) = field_error(&one_route(bad));
        assert_eq!(
            (route.as_str(), got.as_str()),
            ("r", field),
            "{bad}: {message}"
        );
    }
}

#[test]
fn field_errors_name_the_route_and_field() {
    let text = format!(
        "{}{}",
        one_route(""),
        one_route("dev_addr_ranges = [{ start = \"00000000\", end = \"00000001\" }, { start = \"00000002\", end = \"nothex!!\" }]")
            .replace("id = \"r\"", "id = \"second\"")
    );
    let (route, field, message) = field_error(&text);
    assert_eq!(
        (route.as_str(), field.as_str()),
        ("second", "dev_addr_ranges[1].end")
    );
    assert!(
        message.contains("\"nothex!!\" is not 8 hex digits"),
        "{message}"
    );
    let error = RouteTable::from_toml(&text).unwrap_err().to_string();
    assert!(
        error.starts_with("route second: dev_addr_ranges[1].end: DevAddr"),
        "{error}"
    );
}

#[test]
fn missing_unknown_and_wrong_fields_are_named() {
    let (route, _, message) = field_error(&one_route("").replace("max_copies = 1\n", ""));
    assert_eq!(route, "r");
    assert!(message.contains("missing field `max_copies`"), "{message}");
    let (_, _, message) = field_error(&one_route("max_copes = 2"));
    assert!(message.contains("unknown field `max_copes`"), "{message}");
    let (_, field, _) = field_error(&one_route("max_copies = -1").replace("max_copies = 1\n", ""));
    assert_eq!(field, "max_copies");
    let (_, field, message) = field_error(&one_route("").replace("\"gwmp\"", "\"http\""));
    assert_eq!(field, "endpoint.protocol");
    assert!(message.contains("http"), "{message}");
    // The endpoint's fields are read after its protocol: the error names the endpoint.
    let (_, field, message) = field_error(&one_route("").replace("port = 1", "port = 70000"));
    assert_eq!(field, "endpoint");
    assert!(message.contains("70000"), "{message}");
}

#[test]
fn a_route_without_a_good_id_is_named_by_its_place() {
    let text = format!(
        "{}{}",
        one_route(""),
        one_route("").replace("id = \"r\"\n", "")
    );
    let (route, _, message) = field_error(&text);
    assert_eq!(route, "#2");
    assert!(message.contains("missing field `id`"), "{message}");
    let (route, field, message) = field_error(&one_route("").replace("id = \"r\"", "id = \"a b\""));
    assert_eq!((route.as_str(), field.as_str()), ("#1", "id"));
    assert!(
        message.contains("only A-Z a-z 0-9 _ . - are allowed"),
        "{message}"
    );
}

#[test]
fn table_errors_come_through_the_file() {
    let text = one_route("max_copies = 0").replace("max_copies = 1\n", "");
    assert_eq!(
        RouteTable::from_toml(&text),
        Err(RouteError::MaxCopies { route: id("r") })
    );
    let twice = format!("{}{}", one_route(""), one_route(""));
    assert_eq!(
        RouteTable::from_toml(&twice),
        Err(RouteError::DuplicateId(id("r")))
    );
}

#[test]
fn syntax_errors_give_the_line() {
    let text = format!("{}\nthis is not toml\n", one_route(""));
    let error = RouteTable::from_toml(&text).unwrap_err();
    assert!(
        matches!(&error, RouteError::Syntax(message) if message.starts_with("line 8:")),
        "{error}"
    );
    let error = RouteTable::from_toml("[routes]\n").unwrap_err();
    assert!(
        matches!(&error, RouteError::Syntax(message) if message.contains("unknown field `routes`")),
        "{error}"
    );
    let error = RouteTable::from_toml("route = 5\n").unwrap_err();
    assert!(matches!(error, RouteError::Syntax(_)), "{error}");
    let error = RouteTable::from_toml("[[route]]\n[[route]]\nid = 3\n").unwrap_err();
    assert!(
        matches!(&error, RouteError::Field { route, .. } if route == "#1"),
        "{error}"
    );
    assert!(RouteTable::from_toml("").unwrap().is_empty());
}
