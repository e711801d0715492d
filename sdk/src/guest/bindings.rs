//! Bindings generated from `wit/filter.wit`, fenced here so the rest of the SDK uses plain names.

wit_bindgen::generate!({
    path: "../wit",
    // Every filter exports `consume` too; the gateway calls it only where `sees-records` says so.
    world: "read-filter",
    // The WIT `header`, `response`, `json-schema` and `schemas` types are the SDK's own (same fields), so
    // nothing is converted on the way in or out.
    with: {
        "wafka:filter/types@0.1.0/header": crate::Header,
        "wafka:filter/types@0.1.0/response": crate::Response,
        "wafka:filter/json-schema@0.1.0/violation": crate::json_schema::Violation,
        "wafka:filter/json-schema@0.1.0/report": crate::json_schema::Report,
        "wafka:filter/json-schema@0.1.0/check-error": crate::json_schema::CheckError,
        "wafka:filter/schemas@0.1.0/schema-info": crate::schemas::SchemaInfo,
        "wafka:filter/schemas@0.1.0/schema-error": crate::schemas::SchemaError,
    },
    // `export_filter!` expands in the filter's crate and reaches the export macro through
    // `wafka_sdk::__private`, so filters need no wit-bindgen dependency of their own.
    pub_export_macro: true,
});
