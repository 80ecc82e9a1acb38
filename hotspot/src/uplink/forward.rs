//! Which network server gets which uplink: with a route file, the route that claims the uplink
//! (`routing::RouteTable::route_for`), one GWMP client per distinct endpoint; without one, the
//! single `forward_to` server gets every device uplink. Uplinks no route takes are dropped and
//! counted (`hotspot_uplinks_dropped_total{reason}`), forwarded ones counted by route
//! (`hotspot_uplinks_forwarded_total{route}`).

use super::client::{Client, Shared};
use super::downlink::{Downlink, TxLimits};
use super::{LorawanSection, UplinkError, UplinkKind};
use crate::metrics::{label, Metrics};
use radio_io::gwmp::protocol::MacAddress;
use radio_io::Reception;
use routing::{Endpoint, RouteTable};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

/// Accepted downlinks waiting for the daemon; beyond this a PULL_RESP is answered
/// `COLLISION_PACKET`.
pub const DOWNLINK_QUEUE: usize = 64;

/// The route label of uplinks forwarded to the single `forward_to` server.
pub const FORWARD_TO_ROUTE: &str = "forward_to";

/// Where device uplinks go.
#[derive(Debug)]
enum Targets {
    /// `forward_to`: every device uplink to one server.
    Single(Client),
    /// A route file: each uplink to its route's server.
    Routed {
        table: RouteTable,
        clients: HashMap<Endpoint, Client>,
        any_inactive: bool,
    },
}

/// The hotspot as packet forwarder of LoRaWAN network servers: forwards device uplinks and
/// receives their downlinks. Dropping it stops its clients.
#[derive(Debug)]
pub struct Upstream {
    targets: Targets,
    metrics: Metrics,
    downlinks: Option<mpsc::Receiver<Downlink>>,
    limits: TxLimits,
}

/// The `host:port` of a GWMP endpoint (IPv6 addresses in brackets).
fn server_of(endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Gwmp { host, port } if host.contains(':') && !host.starts_with('[') => {
            format!("[{host}]:{port}")
        }
        Endpoint::Gwmp { host, port } => format!("{host}:{port}"),
    }
}

impl Upstream {
    /// Reads and checks a route file; the error names the file, route and field.
    pub fn load_routes(path: &Path) -> Result<RouteTable, UplinkError> {
        let text = std::fs::read_to_string(path).map_err(|source| UplinkError::RouteFile {
            path: path.to_path_buf(),
            source,
        })?;
        RouteTable::from_toml(&text).map_err(|source| UplinkError::Routes {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The forwarding `config` asks for, transmitting within `limits`: by route file
    /// (`routes`), to one server (`forward_to`), or `None` when neither is set. Both set is an
    /// error, as is a route file that does not read or check.
    pub async fn from_config(
        config: &LorawanSection,
        public_key: &[u8; 32],
        metrics: &Metrics,
        limits: TxLimits,
    ) -> Result<Option<Self>, UplinkError> {
        let forward_to = config.forward_to.trim();
        let routes = !config.routes.as_os_str().is_empty();
        if routes && !forward_to.is_empty() {
            return Err(UplinkError::Config(
                "set either forward_to (one network server) or routes (a route file), not both"
                    .into(),
            ));
        }
        let eui = config.eui(public_key)?;
        let (shared, downlinks) = shared(config, eui, metrics, limits);
        let targets = if routes {
            let table = Self::load_routes(&config.routes)?;
            tracing::info!(routes = table.len(), path = %config.routes.display(), "route file read");
            routed(table, shared).await?
        } else if !forward_to.is_empty() {
            Targets::Single(Client::start(forward_to, shared).await?)
        } else {
            return Ok(None);
        };
        Ok(Some(Self {
            targets,
            metrics: metrics.clone(),
            downlinks: Some(downlinks),
            limits,
        }))
    }

    /// The downlinks the network servers sent and the hotspot accepted, for the daemon to
    /// transmit; `None` once taken.
    pub fn take_downlinks(&mut self) -> Option<mpsc::Receiver<Downlink>> {
        self.downlinks.take()
    }

    /// What the radio may transmit.
    pub fn limits(&self) -> TxLimits {
        self.limits
    }

    /// Forwards a heard frame of this `kind` to the server that takes it, or counts why none
    /// does.
    pub fn forward(&self, reception: &Reception, kind: UplinkKind) {
        match &self.targets {
            Targets::Single(client) => {
                if kind.is_device_uplink() && client.forward(reception) {
                    self.forwarded(FORWARD_TO_ROUTE);
                }
            }
            Targets::Routed {
                table,
                clients,
                any_inactive,
            } => {
                if kind == UplinkKind::BadCrc {
                    return self.dropped("bad_crc");
                }
                let uplink = match routing::parse_uplink(&reception.frame.payload) {
                    Ok(uplink) => uplink,
                    Err(error) => return self.dropped(error.code()),
                };
                match table.route_for(&uplink.key) {
                    Some(route) => {
                        let client = clients.get(&route.endpoint);
                        if client.is_some_and(|client| client.forward(reception)) {
                            self.forwarded(route.id.as_str());
                        }
                    }
                    None if *any_inactive
                        && (table.routes().iter())
                            .any(|route| !route.active && route.claims(&uplink.key)) =>
                    {
                        self.dropped("inactive_route")
                    }
                    None => self.dropped("no_route"),
                }
            }
        }
    }

    fn forwarded(&self, route: &str) {
        (self.metrics.uplinks_forwarded)
            .get_or_create(&label("route", route))
            .inc();
    }

    fn dropped(&self, reason: &str) {
        (self.metrics.uplinks_dropped)
            .get_or_create(&label("reason", reason))
            .inc();
    }
}

/// What the clients share, and the daemon's end of the downlink queue.
fn shared(
    config: &LorawanSection,
    eui: [u8; 8],
    metrics: &Metrics,
    limits: TxLimits,
) -> (Shared, mpsc::Receiver<Downlink>) {
    let (downlinks, receiver) = mpsc::channel(DOWNLINK_QUEUE);
    let shared = Shared {
        mac: MacAddress::from(eui),
        keepalive: Duration::from_secs(config.keepalive_secs.max(1)),
        limits,
        downlinks,
        metrics: metrics.clone(),
    };
    (shared, receiver)
}

/// One client per distinct endpoint of the table's active routes.
async fn routed(table: RouteTable, shared: Shared) -> Result<Targets, UplinkError> {
    let mut clients = HashMap::new();
    for route in table.routes().iter().filter(|route| route.active) {
        if !clients.contains_key(&route.endpoint) {
            let client = Client::start(&server_of(&route.endpoint), shared.clone()).await?;
            clients.insert(route.endpoint.clone(), client);
        }
    }
    let any_inactive = table.routes().iter().any(|route| !route.active);
    Ok(Targets::Routed {
        table,
        clients,
        any_inactive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_socket_addresses() {
        let gwmp = |host: &str| Endpoint::Gwmp {
            host: host.into(),
            port: 1700,
        };
        assert_eq!(server_of(&gwmp("lns.example")), "lns.example:1700");
        assert_eq!(server_of(&gwmp("10.0.0.1")), "10.0.0.1:1700");
        assert_eq!(server_of(&gwmp("::1")), "[::1]:1700");
        assert_eq!(server_of(&gwmp("[::1]")), "[::1]:1700");
    }
}
