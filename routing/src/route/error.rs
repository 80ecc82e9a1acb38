//! Why a set of routes or a route file was refused.

use super::RouteId;

/// Why a set of routes or a route file was refused; each names the route (and field) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The route file is not TOML, or not a list of `[[route]]` tables.
    #[error("route file: {0}")]
    Syntax(String),
    /// A field of a route in a file has a missing, unknown or wrong value.
    #[error("route {route}: {field}: {message}")]
    Field {
        /// The route's id, or `#n` (its place in the file, from 1) when it has none.
        route: String,
        /// The field's path in the route, e.g. `dev_addr_ranges[0].start`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two routes have the same id.
    #[error("route id {0} is used by two routes")]
    DuplicateId(RouteId),
    /// A DevAddr range starts after it ends.
    #[error("route {route}: dev_addr_ranges: {start:08X} to {end:08X} starts after it ends")]
    RangeReversed {
        /// The route.
        route: RouteId,
        /// The range's start.
        start: u32,
        /// The range's end.
        end: u32,
    },
    /// Two DevAddr ranges (of two routes or of one) share addresses.
    #[error(
        "DevAddrs {start:08X} to {end:08X} are claimed by route {first} and by route {second}"
    )]
    DevAddrOverlap {
        /// The route of the range that starts first.
        first: RouteId,
        /// The route of the other range.
        second: RouteId,
        /// First shared DevAddr.
        start: u32,
        /// Last shared DevAddr.
        end: u32,
    },
    /// Two EUI filters (of two routes or of one) pass the same join requests.
    #[error(
        "join requests of JoinEUI {join_eui:016X}, {} are claimed by route {first} and by route {second}",
        devices(dev_eui)
    )]
    EuiOverlap {
        /// One route.
        first: RouteId,
        /// The other.
        second: RouteId,
        /// The JoinEUI both filters have.
        join_eui: u64,
        /// The device both pass; `None`: every device of the JoinEUI.
        dev_eui: Option<u64>,
    },
    /// `max_copies` is 0: the route would pay no hotspot.
    #[error("route {route}: max_copies must be at least 1")]
    MaxCopies {
        /// The route.
        route: RouteId,
    },
    /// The payer is not the base58 address of a key.
    #[error("route {route}: payer {payer:?} is not a key address: {reason}")]
    Payer {
        /// The route.
        route: RouteId,
        /// The payer as given.
        payer: String,
        /// Why it is refused.
        reason: String,
    },
    /// The endpoint cannot be reached as given.
    #[error("route {route}: endpoint: {reason}")]
    Endpoint {
        /// The route.
        route: RouteId,
        /// Why it is refused.
        reason: &'static str,
    },
}

/// The devices of an [`RouteError::EuiOverlap`], in words.
fn devices(dev_eui: &Option<u64>) -> String {
    match dev_eui {
        Some(dev_eui) => format!("DevEUI {dev_eui:016X}"),
        None => "any DevEUI".to_string(),
    }
}
