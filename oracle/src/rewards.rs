//! Reward shares per epoch.
