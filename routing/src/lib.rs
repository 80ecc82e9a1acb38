//! Pay for use: which LoRaWAN uplinks go to which registered route, and what forwarding one
//! costs its payer in data credits.
//!
//! Everything here is a pure function over the bytes and text handed to it: no sockets, files,
//! clocks or async runtime, so the hotspot (which route gets an uplink), the oracle (routes in
//! its store, the price of packet reports) and `oracle-core` can all use it.
//!
//! - [`frame`]: [`parse_uplink`] reads a LoRaWAN PHY payload (with the `lorawan` crate) into
//!   its kind and [`RoutingKey`]; MIC checks with given keys.
//! - [`route`]: [`Route`]s, the [`RouteTable`] that checks them (no two routes claim the same
//!   device) and finds the route of a key, and the TOML route file (`routing/README.md`).
//! - [`credits`]: [`credits_for`], the data-credit price of a forwarded packet.

pub mod credits;
pub mod frame;
mod hex;
pub mod route;

pub use credits::{credits_for, BYTES_PER_CREDIT};
pub use frame::{
    data_mic_ok, join_mic_ok, parse_uplink, Downlink, FrameError, RoutingKey, Uplink, UplinkKind,
};
pub use route::{
    DevAddrRange, Endpoint, EuiFilter, Route, RouteError, RouteId, RouteIdError, RouteTable,
};
