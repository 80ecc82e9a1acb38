use super::*;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// lora-packet's README example: DevAddr 49BE7DF1, FCnt 2, FPort 1, MIC by this NwkSKey.
const README_DATA: &str = "40F17DBE4900020001954378762B11FF0D";
const README_NWK_S_KEY: [u8; 16] = [
    0x44, 0x02, 0x42, 0x41, 0xed, 0x4c, 0xe9, 0xa6, 0x8c, 0x6a, 0x8b, 0xc0, 0x55, 0x23, 0x3f, 0xd3,
];
/// A join request built by lora-packet: JoinEUI 70B3D57ED0000000, DevEUI 0004A30B001C0530.
const JOIN: &str = "00000000d07ed5b37030051c000ba304004a2fe900800b";
const JOIN_APP_KEY: [u8; 16] = [
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
];

#[test]
fn data_uplink_gives_dev_addr_msb_first_and_fcnt() {
    let uplink = parse_uplink(&hex(README_DATA)).unwrap();
    assert_eq!(uplink.kind, UplinkKind::UnconfirmedDataUp);
    assert_eq!(
        uplink.key,
        RoutingKey::Data {
            dev_addr: 0x49BE_7DF1,
            fcnt: 2
        }
    );
    assert_eq!(uplink.phy_len, 17);
    assert_eq!(uplink.credits(), 1);
}

#[test]
fn confirmed_uplink_is_its_own_kind() {
    let mut phy = hex(README_DATA);
    phy[0] = 0x80;
    let uplink = parse_uplink(&phy).unwrap();
    assert_eq!(uplink.kind, UplinkKind::ConfirmedDataUp);
    assert_eq!(uplink.kind.label(), "confirmed_data_up");
}

#[test]
fn join_request_gives_euis_msb_first() {
    let uplink = parse_uplink(&hex(JOIN)).unwrap();
    assert_eq!(uplink.kind, UplinkKind::JoinRequest);
    assert_eq!(
        uplink.key,
        RoutingKey::Join {
            join_eui: 0x70B3_D57E_D000_0000,
            dev_eui: 0x0004_A30B_001C_0530
        }
    );
    assert_eq!(uplink.phy_len, 23);
}

#[test]
fn mics_check_with_the_right_keys_only() {
    let data = hex(README_DATA);
    assert_eq!(data_mic_ok(&data, &README_NWK_S_KEY, 0), Ok(true));
    assert_eq!(data_mic_ok(&data, &README_NWK_S_KEY, 1), Ok(false));
    assert_eq!(data_mic_ok(&data, &JOIN_APP_KEY, 0), Ok(false));
    assert_eq!(join_mic_ok(&data, &README_NWK_S_KEY), Ok(false));
    let join = hex(JOIN);
    assert_eq!(join_mic_ok(&join, &JOIN_APP_KEY), Ok(true));
    assert_eq!(join_mic_ok(&join, &README_NWK_S_KEY), Ok(false));
    assert_eq!(data_mic_ok(&join, &JOIN_APP_KEY, 0), Ok(false));
    let mut changed = join.clone();
    changed[5] ^= 1;
    assert_eq!(join_mic_ok(&changed, &JOIN_APP_KEY), Ok(false));
    assert_eq!(
        join_mic_ok(&[0x20; 17], &JOIN_APP_KEY).map_err(|e| e.code()),
        Err("not_an_uplink")
    );
}

#[test]
fn every_prefix_of_a_frame_is_too_short_for_its_mic() {
    // A data frame's FPort and payload are optional: only its first 12 bytes are needed.
    for (frame, needed) in [(hex(README_DATA), 12), (hex(JOIN), 23)] {
        assert!(parse_uplink(&frame[..needed]).is_ok());
        for len in 0..needed {
            let error = parse_uplink(&frame[..len]).unwrap_err();
            assert_eq!(error.code(), "too_short_for_mic", "{len} bytes: {error}");
        }
    }
}

#[test]
fn fopts_length_counts_toward_the_needed_bytes() {
    // FCtrl says 15 bytes of FOpts; 12 + 15 = 27 are needed.
    let mut phy = vec![0x40, 1, 2, 3, 4, 0x0f, 0, 0];
    phy.extend([0u8; 4]);
    assert_eq!(
        parse_uplink(&phy),
        Err(FrameError::TooShortForMic {
            len: 12,
            needed: 27
        })
    );
    phy.extend([0u8; 15]);
    assert!(parse_uplink(&phy).is_ok());
}

#[test]
fn downlinks_and_join_accepts_are_not_uplinks() {
    for (mhdr, downlink) in [
        (0x20, Downlink::JoinAccept),
        (0x60, Downlink::UnconfirmedDataDown),
        (0xA0, Downlink::ConfirmedDataDown),
    ] {
        let mut phy = hex(README_DATA);
        phy[0] = mhdr;
        let error = parse_uplink(&phy).unwrap_err();
        assert_eq!(error, FrameError::NotAnUplink(downlink));
        assert_eq!(error.code(), "not_an_uplink");
        assert_eq!(parse_uplink(&[mhdr]).unwrap_err().code(), "not_an_uplink");
    }
}

#[test]
fn proprietary_reserved_and_other_major_versions_are_refused() {
    let mut phy = hex(README_DATA);
    phy[0] = 0xE0;
    assert_eq!(parse_uplink(&phy).unwrap_err().code(), "proprietary");
    phy[0] = 0xC0;
    assert_eq!(parse_uplink(&phy).unwrap_err().code(), "reserved_type");
    phy[0] = 0x41;
    assert_eq!(
        parse_uplink(&phy),
        Err(FrameError::UnsupportedMajor { major: 1 })
    );
    assert_eq!(parse_uplink(&phy).unwrap_err().code(), "unsupported_major");
}

#[test]
fn a_long_join_request_is_malformed_and_a_huge_frame_too_long() {
    let mut join = hex(JOIN);
    join.push(0);
    assert_eq!(parse_uplink(&join).unwrap_err().code(), "malformed");
    let huge = vec![0x40; MAX_PHY_LEN + 1];
    assert_eq!(
        parse_uplink(&huge),
        Err(FrameError::TooLong {
            len: MAX_PHY_LEN + 1
        })
    );
    assert_eq!(parse_uplink(&huge).unwrap_err().code(), "too_long");
    let longest = vec![0x40; MAX_PHY_LEN];
    assert_eq!(parse_uplink(&longest).unwrap().phy_len, MAX_PHY_LEN);
}

#[test]
fn uplinks_serialize_identifiers_as_hex() {
    let uplink = parse_uplink(&hex(README_DATA)).unwrap();
    let json = serde_json::to_string(&uplink).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"unconfirmed_data_up","key":{"type":"data","dev_addr":"49BE7DF1","fcnt":2},"phy_len":17}"#
    );
    assert_eq!(serde_json::from_str::<Uplink>(&json).unwrap(), uplink);
    let join = parse_uplink(&hex(JOIN)).unwrap();
    let json = serde_json::to_string(&join.key).unwrap();
    assert_eq!(
        json,
        r#"{"type":"join","join_eui":"70B3D57ED0000000","dev_eui":"0004A30B001C0530"}"#
    );
    assert_eq!(serde_json::from_str::<RoutingKey>(&json).unwrap(), join.key);
}

#[test]
fn every_error_has_a_distinct_code() {
    let errors = [
        FrameError::TooShortForMic { len: 0, needed: 5 },
        FrameError::TooLong { len: 256 },
        FrameError::NotAnUplink(Downlink::JoinAccept),
        FrameError::Proprietary,
        FrameError::ReservedType,
        FrameError::UnsupportedMajor { major: 2 },
        FrameError::Malformed(String::new()),
    ];
    let codes: std::collections::BTreeSet<_> = errors.iter().map(FrameError::code).collect();
    assert_eq!(codes.len(), errors.len());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        if let Ok(uplink) = parse_uplink(&bytes) {
            proptest::prop_assert_eq!(uplink.phy_len, bytes.len());
            let _ = data_mic_ok(&bytes, &[0; 16], 0);
            let _ = join_mic_ok(&bytes, &[0; 16]);
        }
    }
}
