//! One module per console page: its handler(s) and its markup.

pub mod agents;
pub mod alert;
pub mod alert_filters;
pub mod alerts;
pub mod alerts_data;
pub mod asset;
pub mod assets;
pub mod fleet;
pub mod install_hint;
pub mod lifecycle_card;
pub mod live;
pub mod outputs;
pub mod overview;
pub mod policy;
pub mod signin;
pub mod uninstall;
pub mod updates;
pub mod whitelist;
