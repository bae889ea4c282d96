//! TypeScript names for what the wire holds as open JSON, for fields that
//! `#[ts(as = ..)]` must name by a Rust type (an optional field cannot take a plain
//! `#[ts(type = ..)]`).

/// A JSON object of any values: `Record<string, unknown>` in TypeScript.
pub(crate) struct JsonObject;

impl ts_rs::TS for JsonObject {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn name(_: &ts_rs::Config) -> String {
        "Record<string, unknown>".to_owned()
    }

    fn inline(cfg: &ts_rs::Config) -> String {
        Self::name(cfg)
    }
}
