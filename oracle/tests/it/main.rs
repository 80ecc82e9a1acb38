//! The oracle's end-to-end tests, in one binary (one link instead of one per file): each
//! module tests one part over a real store, gRPC and HTTP.

mod common;

mod abuse;
mod audit;
mod crash;
mod defences;
mod epoch;
mod explorer;
mod explorer_map;
mod grpc;
mod http;
mod http_limits;
mod identity;
mod ledger_entries;
mod load;
mod report_key_migration;
mod report_log;
mod reputation;
mod rules;
mod rules_more;
mod run;
mod serve_operators;
mod store_suite;
