//! A checked set of routes and the lookup of an uplink's route.

use super::{Route, RouteError};
use crate::RoutingKey;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A DevAddr range of a route, as the lookup and the overlap check sort them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct AddrEntry {
    start: u32,
    end: u32,
    route: usize,
}

/// An EUI filter of a route, as the lookup and the overlap check sort them (`None`, any
/// device, first within a JoinEUI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct EuiEntry {
    join_eui: u64,
    dev_eui: Option<u64>,
    route: usize,
}

/// Routes checked together: ids unique, each route valid, and no DevAddr or join request
/// claimed twice (inactive routes included). At most one route matches any uplink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Route>", into = "Vec<Route>")]
pub struct RouteTable {
    routes: Vec<Route>,
    /// The active routes' DevAddr ranges, sorted by start.
    dev_addrs: Vec<AddrEntry>,
    /// The active routes' EUI filters, sorted.
    euis: Vec<EuiEntry>,
}

impl RouteTable {
    /// Checks `routes` and indexes them for [`RouteTable::route_for`].
    pub fn new(routes: Vec<Route>) -> Result<Self, RouteError> {
        let mut ids = BTreeSet::new();
        for route in &routes {
            route.check()?;
            if !ids.insert(route.id.as_str()) {
                return Err(RouteError::DuplicateId(route.id.clone()));
            }
        }
        let all_addrs = addr_entries(&routes, |_| true);
        check_addr_overlaps(&routes, &all_addrs)?;
        let all_euis = eui_entries(&routes, |_| true);
        check_eui_overlaps(&routes, &all_euis)?;
        Ok(Self {
            dev_addrs: addr_entries(&routes, |route| route.active),
            euis: eui_entries(&routes, |route| route.active),
            routes,
        })
    }

    /// The active route that buys the uplinks of `key`, if any: by DevAddr range for data
    /// uplinks, by EUI filter for join requests. Binary searches over the sorted claims.
    pub fn route_for(&self, key: &RoutingKey) -> Option<&Route> {
        let index = match *key {
            RoutingKey::Data { dev_addr, .. } => self.addr_route(dev_addr),
            RoutingKey::Join { join_eui, dev_eui } => self
                .eui_route(join_eui, Some(dev_eui))
                .or_else(|| self.eui_route(join_eui, None)),
        }?;
        self.routes.get(index)
    }

    /// The routes, in the order given.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route with this id.
    pub fn get(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|route| route.id.as_str() == id)
    }

    /// The number of routes, active or not.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    fn addr_route(&self, dev_addr: u32) -> Option<usize> {
        let after = self
            .dev_addrs
            .partition_point(|entry| entry.start <= dev_addr);
        let entry = self.dev_addrs.get(after.checked_sub(1)?)?;
        (dev_addr <= entry.end).then_some(entry.route)
    }

    fn eui_route(&self, join_eui: u64, dev_eui: Option<u64>) -> Option<usize> {
        let found = self
            .euis
            .binary_search_by(|entry| (entry.join_eui, entry.dev_eui).cmp(&(join_eui, dev_eui)))
            .ok()?;
        Some(self.euis[found].route)
    }
}

impl TryFrom<Vec<Route>> for RouteTable {
    type Error = RouteError;

    fn try_from(routes: Vec<Route>) -> Result<Self, Self::Error> {
        Self::new(routes)
    }
}

impl From<RouteTable> for Vec<Route> {
    fn from(table: RouteTable) -> Self {
        table.routes
    }
}

/// The DevAddr ranges of the routes that `keep` keeps, sorted.
fn addr_entries(routes: &[Route], keep: impl Fn(&Route) -> bool) -> Vec<AddrEntry> {
    let mut entries: Vec<AddrEntry> = (routes.iter().enumerate())
        .filter(|(_, route)| keep(route))
        .flat_map(|(index, route)| {
            (route.dev_addr_ranges.iter()).map(move |range| AddrEntry {
                start: range.start,
                end: range.end,
                route: index,
            })
        })
        .collect();
    entries.sort_unstable();
    entries
}

/// The EUI filters of the routes that `keep` keeps, sorted.
fn eui_entries(routes: &[Route], keep: impl Fn(&Route) -> bool) -> Vec<EuiEntry> {
    let mut entries: Vec<EuiEntry> = (routes.iter().enumerate())
        .filter(|(_, route)| keep(route))
        .flat_map(|(index, route)| {
            route.euis.iter().map(move |filter| EuiEntry {
                join_eui: filter.join_eui,
                dev_eui: filter.dev_eui,
                route: index,
            })
        })
        .collect();
    entries.sort_unstable();
    entries
}

/// The first shared DevAddrs of ranges sorted by start: while none overlap, the ranges before
/// a range end with its neighbour, so neighbours are all that need comparing.
fn check_addr_overlaps(routes: &[Route], sorted: &[AddrEntry]) -> Result<(), RouteError> {
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.start <= a.end {
            return Err(RouteError::DevAddrOverlap {
                first: routes[a.route].id.clone(),
                second: routes[b.route].id.clone(),
                start: b.start,
                end: b.end.min(a.end),
            });
        }
    }
    Ok(())
}

/// The first two sorted EUI filters that pass the same join requests: within a JoinEUI an
/// any-device filter sorts first and overlaps the next, equal DevEUIs sort side by side.
fn check_eui_overlaps(routes: &[Route], sorted: &[EuiEntry]) -> Result<(), RouteError> {
    for pair in sorted.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.join_eui == b.join_eui && (a.dev_eui.is_none() || a.dev_eui == b.dev_eui) {
            return Err(RouteError::EuiOverlap {
                first: routes[a.route].id.clone(),
                second: routes[b.route].id.clone(),
                join_eui: a.join_eui,
                dev_eui: b.dev_eui,
            });
        }
    }
    Ok(())
}
