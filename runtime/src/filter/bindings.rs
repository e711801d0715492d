//! Host bindings generated from `wit/` — fenced here so the rest of the crate uses plain names.

wasmtime::component::bindgen!({
    path: "../wit",
    // `read-filter` is `filter` plus the optional `consume` export: the host looks each export
    // up on its own (see `LoadedFilter`), so filters built for `filter` still load.
    world: "read-filter",
    // Host functions only touch the resource table, which can fail: let them trap.
    // The identity calls wait for the provider (a key refetch, an introspection) on the fiber.
    imports: {
        "wafka:filter/identity.verify-signature": async | trappable,
        "wafka:filter/identity.introspect": async | trappable,
        // A remote registry may be asked for a schema not cached yet.
        "wafka:filter/schemas.latest": async | trappable,
        "wafka:filter/schemas.validate": async | trappable,
        "wafka:filter/schemas.encode": async | trappable,
        "wafka:filter/schemas.decode": async | trappable,
        "wafka:filter/schemas.validate-record": async | trappable,
        "wafka:filter/schemas.encode-record": async | trappable,
        "wafka:filter/schemas.decode-record": async | trappable,
        default: trappable,
    },
    // Guest calls run on a fiber so a deadline can yield to tokio instead of blocking a worker.
    exports: { default: async },
    with: {
        "wafka:filter/types.request": crate::filter::host::RequestRef,
        "wafka:filter/types.record": crate::exchange::Record,
    },
});

pub use self::exports::wafka::filter::produce::Outcome;
pub use self::exports::wafka::filter::{consume, produce};
pub use self::wafka::filter::types::Response;
