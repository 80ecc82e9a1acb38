//! Routes: who buys which uplinks, where they are sent and who pays for them.
//!
//! A [`Route`] claims devices by DevAddr ranges (data uplinks) and by EUI filters (join
//! requests). A [`RouteTable`] checks a set of routes, no two of them claiming the same device,
//! and finds the route of an uplink's [`crate::RoutingKey`]. Route files are TOML
//! ([`RouteTable::from_toml`], format in `routing/README.md`); the same serde form, with
//! DevAddrs and EUIs as hex strings, is the JSON of the API.

mod error;
mod file;
mod table;

pub use error::RouteError;
pub use table::RouteTable;

use crate::RoutingKey;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest route id.
pub const MAX_ROUTE_ID_LEN: usize = 64;

/// A route's name: 1 to 64 characters of `A-Z a-z 0-9 _ . -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RouteId(String);

/// Why a text is not a [`RouteId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteIdError {
    /// No characters.
    #[error("route id is empty")]
    Empty,
    /// More than [`MAX_ROUTE_ID_LEN`] characters.
    #[error("route id of {0} characters, at most {MAX_ROUTE_ID_LEN}")]
    TooLong(usize),
    /// A character outside `A-Z a-z 0-9 _ . -`.
    #[error("route id has {0:?}; only A-Z a-z 0-9 _ . - are allowed")]
    Character(char),
}

impl RouteId {
    /// Checks `id` and makes it a route id.
    pub fn new(id: impl Into<String>) -> Result<Self, RouteIdError> {
        let id = id.into();
        if id.is_empty() {
            return Err(RouteIdError::Empty);
        }
        let chars = id.chars().count();
        if chars > MAX_ROUTE_ID_LEN {
            return Err(RouteIdError::TooLong(chars));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if let Some(bad) = id.chars().find(|&c| !allowed(c)) {
            return Err(RouteIdError::Character(bad));
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RouteId {
    type Error = RouteIdError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<RouteId> for String {
    fn from(id: RouteId) -> Self {
        id.0
    }
}

impl fmt::Display for RouteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a route's uplinks are sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case", deny_unknown_fields)]
pub enum Endpoint {
    /// A network server's GWMP (Semtech UDP packet forwarder) port.
    Gwmp {
        /// Host name or IP address.
        host: String,
        /// UDP port.
        port: u16,
    },
}

impl Endpoint {
    /// Why the endpoint cannot be used, if it cannot: an empty host, one with spaces or
    /// characters other than printable ASCII (international names go in their `xn--` form), or
    /// port 0.
    fn problem(&self) -> Option<&'static str> {
        match self {
            Endpoint::Gwmp { host, .. } if host.trim().is_empty() => Some("host is empty"),
            Endpoint::Gwmp { host, .. } if !host.chars().all(|c| c.is_ascii_graphic()) => {
                Some("host has white space or characters other than printable ASCII")
            }
            Endpoint::Gwmp { port: 0, .. } => Some("port is 0"),
            Endpoint::Gwmp { .. } => None,
        }
    }
}

/// DevAddrs `start..=end`: data uplinks of devices with these session addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevAddrRange {
    /// First DevAddr of the range, e.g. `"26011BDA"` (8 hex digits).
    #[serde(with = "crate::hex::dev_addr")]
    pub start: u32,
    /// Last DevAddr of the range, inclusive.
    #[serde(with = "crate::hex::dev_addr")]
    pub end: u32,
}

impl DevAddrRange {
    /// Whether `dev_addr` is in the range.
    pub fn contains(&self, dev_addr: u32) -> bool {
        (self.start..=self.end).contains(&dev_addr)
    }
}

/// Join requests of one JoinEUI: of one device, or of any device when `dev_eui` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EuiFilter {
    /// The JoinEUI (AppEUI), e.g. `"70B3D57ED0000000"` (16 hex digits).
    #[serde(with = "crate::hex::eui")]
    pub join_eui: u64,
    /// The DevEUI; absent: any device of the JoinEUI.
    #[serde(
        default,
        with = "crate::hex::optional_eui",
        skip_serializing_if = "Option::is_none"
    )]
    pub dev_eui: Option<u64>,
}

impl EuiFilter {
    /// Whether a join request with these EUIs passes the filter.
    pub fn matches(&self, join_eui: u64, dev_eui: u64) -> bool {
        self.join_eui == join_eui && self.dev_eui.is_none_or(|own| own == dev_eui)
    }
}

/// A registered route: the devices it buys uplinks of, where it sends them, who pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The route's name, unique in a table.
    pub id: RouteId,
    /// The base58 address of the payer's key, whose data credits pay for the uplinks.
    pub payer: String,
    /// Where the uplinks go.
    pub endpoint: Endpoint,
    /// DevAddr ranges whose data uplinks the route buys.
    #[serde(default)]
    pub dev_addr_ranges: Vec<DevAddrRange>,
    /// Filters of the join requests the route buys.
    #[serde(default)]
    pub euis: Vec<EuiFilter>,
    /// Multi-buy: how many hotspots are paid for one packet (each copy costs its credits); at
    /// least 1.
    pub max_copies: u32,
    /// Whether the route buys uplinks now; an inactive route matches nothing but still holds
    /// its DevAddrs and EUIs. Default `true`.
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

impl Route {
    /// Whether the route (active or not) claims the uplinks of `key`.
    pub fn claims(&self, key: &RoutingKey) -> bool {
        match *key {
            RoutingKey::Data { dev_addr, .. } => {
                self.dev_addr_ranges.iter().any(|r| r.contains(dev_addr))
            }
            RoutingKey::Join { join_eui, dev_eui } => {
                self.euis.iter().any(|f| f.matches(join_eui, dev_eui))
            }
        }
    }

    /// The payer's key address.
    pub fn payer_address(&self) -> Result<poc_keys::Address, RouteError> {
        self.payer.parse().map_err(|error| RouteError::Payer {
            route: self.id.clone(),
            payer: self.payer.clone(),
            reason: format!("{error}"),
        })
    }

    /// Checks what concerns this route alone: payer, endpoint, copies and range order.
    fn check(&self) -> Result<(), RouteError> {
        self.payer_address()?;
        if let Some(reason) = self.endpoint.problem() {
            return Err(RouteError::Endpoint {
                route: self.id.clone(),
                reason,
            });
        }
        if self.max_copies == 0 {
            return Err(RouteError::MaxCopies {
                route: self.id.clone(),
            });
        }
        match self.dev_addr_ranges.iter().find(|r| r.start > r.end) {
            Some(range) => Err(RouteError::RangeReversed {
                route: self.id.clone(),
                start: range.start,
                end: range.end,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
