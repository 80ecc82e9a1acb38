//! Proof of coverage: the protobuf wire types shared by hotspot and oracle, ed25519 keys and
//! report signing, beacon derivation from oracle entropy, the regions' beacon plans, and the
//! maker-signed onboarding records that give hotspots their identity.

pub mod beacon;
pub mod entropy;
/// ed25519 key pairs and addresses ([`poc_keys`]).
pub mod keys {
    pub use poc_keys::*;
}
pub mod onboarding;
pub mod region;
pub mod signing;
#[cfg(feature = "testkit")]
pub mod testkit;

/// Generated protobuf messages and, with the `grpc` feature, the gRPC client and server of the
/// `PocLora` service.
pub mod proto {
    #![allow(missing_docs, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/lorapoc.v1.rs"));
}

pub use beacon::{Beacon, BeaconError, BEACON_MHDR, BEACON_PAYLOAD_LEN};
pub use keys::{Address, KeyError, Keypair};
pub use region::{DataRate, RegionPlan};
pub use signing::{Signable, SignatureError};
