//! The Confluent REST Proxy API (v2 and v3) as Wafka serves it: which paths and methods it
//! has ([`operations`]), its error shape ([`errors`]), its record formats ([`formats`]) and the
//! consumer instances v2 clients create ([`instances`]). The HTTP side is
//! `server/rest_proxy/`; routing, filters, limits, metrics and logging are the routes' own.

pub mod errors;
pub mod formats;
pub mod instances;
pub mod time;

use crate::router::PathPattern;

/// One operation of the API: what a matched path and method does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// v2 `POST /topics/{topic}` and `/topics/{topic}/partitions/{partition}`.
    Produce,
    /// v2 `GET /topics`.
    Topics,
    /// v2 `GET /topics/{topic}`.
    Topic,
    /// v2 `GET /topics/{topic}/partitions`.
    Partitions,
    /// v2 `GET /topics/{topic}/partitions/{partition}`.
    Partition,
    /// v2 `GET /brokers`.
    Brokers,
    /// v2 `POST /consumers/{group}`.
    CreateConsumer,
    /// v2 `DELETE /consumers/{group}/instances/{instance}`.
    DeleteConsumer,
    /// v2 `…/subscription`: POST, GET, DELETE.
    Subscription,
    /// v2 `…/assignments`: POST, GET.
    Assignments,
    /// v2 `GET …/records`.
    Records,
    /// v2 `…/offsets`: POST commits, GET the committed offsets.
    Offsets,
    /// v2 `POST …/positions`.
    Seek,
    /// v2 `POST …/positions/beginning`.
    SeekBeginning,
    /// v2 `POST …/positions/end`.
    SeekEnd,
    /// v3 `GET /v3/clusters`.
    Clusters,
    /// v3 `GET /v3/clusters/{cluster_id}`.
    Cluster,
    /// v3 `…/topics`: GET lists, POST creates.
    V3Topics,
    /// v3 `…/topics/{topic}`: GET, DELETE.
    V3Topic,
    /// v3 `GET …/topics/{topic}/partitions`.
    V3Partitions,
    /// v3 `GET …/topics/{topic}/partitions/{partition}`.
    V3Partition,
    /// v3 `POST …/topics/{topic}/records`: one record, or a stream of them.
    V3Produce,
    /// v3 `POST …/topics/{topic}/records:batch`.
    V3ProduceBatch,
}

impl Op {
    /// The name it is logged and counted under (the route label).
    pub fn name(self) -> &'static str {
        match self {
            Op::Produce => "rest_proxy.produce",
            Op::Topics | Op::Topic | Op::Partitions | Op::Partition | Op::Brokers => {
                "rest_proxy.metadata"
            }
            Op::CreateConsumer | Op::DeleteConsumer => "rest_proxy.consumers",
            Op::Subscription | Op::Assignments | Op::Seek | Op::SeekBeginning | Op::SeekEnd => {
                "rest_proxy.consumer_state"
            }
            Op::Records => "rest_proxy.records",
            Op::Offsets => "rest_proxy.offsets",
            Op::Clusters | Op::Cluster | Op::V3Partitions | Op::V3Partition => {
                "rest_proxy.v3_metadata"
            }
            Op::V3Topics | Op::V3Topic => "rest_proxy.v3_topics",
            Op::V3Produce => "rest_proxy.v3_produce",
            Op::V3ProduceBatch => "rest_proxy.v3_produce_batch",
        }
    }

    /// v3 operations answer `application/json` errors; v2 `application/vnd.kafka.v2+json`.
    pub fn is_v3(self) -> bool {
        matches!(
            self,
            Op::Clusters
                | Op::Cluster
                | Op::V3Topics
                | Op::V3Topic
                | Op::V3Partitions
                | Op::V3Partition
                | Op::V3Produce
                | Op::V3ProduceBatch
        )
    }
}

const INSTANCE: &str = "/consumers/{group}/instances/{instance}";
const TOPIC_V3: &str = "/v3/clusters/{cluster_id}/topics/{topic}";

/// Every path the API serves under `prefix`, with its methods and operation, in match order.
pub fn operations(prefix: &str) -> Vec<(PathPattern, Vec<&'static str>, Op)> {
    let table: Vec<(String, Vec<&'static str>, Op)> = vec![
        ("/topics".into(), vec!["GET"], Op::Topics),
        ("/topics/{topic}".into(), vec!["GET"], Op::Topic),
        ("/topics/{topic}".into(), vec!["POST"], Op::Produce),
        (
            "/topics/{topic}/partitions".into(),
            vec!["GET"],
            Op::Partitions,
        ),
        (
            "/topics/{topic}/partitions/{partition}".into(),
            vec!["GET"],
            Op::Partition,
        ),
        (
            "/topics/{topic}/partitions/{partition}".into(),
            vec!["POST"],
            Op::Produce,
        ),
        ("/brokers".into(), vec!["GET"], Op::Brokers),
        (
            "/consumers/{group}".into(),
            vec!["POST"],
            Op::CreateConsumer,
        ),
        (INSTANCE.into(), vec!["DELETE"], Op::DeleteConsumer),
        (
            format!("{INSTANCE}/subscription"),
            vec!["POST", "GET", "DELETE"],
            Op::Subscription,
        ),
        (
            format!("{INSTANCE}/assignments"),
            vec!["POST", "GET"],
            Op::Assignments,
        ),
        (format!("{INSTANCE}/records"), vec!["GET"], Op::Records),
        (
            format!("{INSTANCE}/offsets"),
            vec!["POST", "GET"],
            Op::Offsets,
        ),
        (format!("{INSTANCE}/positions"), vec!["POST"], Op::Seek),
        (
            format!("{INSTANCE}/positions/beginning"),
            vec!["POST"],
            Op::SeekBeginning,
        ),
        (
            format!("{INSTANCE}/positions/end"),
            vec!["POST"],
            Op::SeekEnd,
        ),
        ("/v3/clusters".into(), vec!["GET"], Op::Clusters),
        ("/v3/clusters/{cluster_id}".into(), vec!["GET"], Op::Cluster),
        (
            "/v3/clusters/{cluster_id}/topics".into(),
            vec!["GET", "POST"],
            Op::V3Topics,
        ),
        (TOPIC_V3.into(), vec!["GET", "DELETE"], Op::V3Topic),
        (
            format!("{TOPIC_V3}/partitions"),
            vec!["GET"],
            Op::V3Partitions,
        ),
        (
            format!("{TOPIC_V3}/partitions/{{partition}}"),
            vec!["GET"],
            Op::V3Partition,
        ),
        (format!("{TOPIC_V3}/records"), vec!["POST"], Op::V3Produce),
        (
            format!("{TOPIC_V3}/records:batch"),
            vec!["POST"],
            Op::V3ProduceBatch,
        ),
    ];
    table
        .into_iter()
        .map(|(path, methods, op)| {
            let pattern = PathPattern::parse(&format!("{prefix}{path}"))
                .expect("the REST Proxy's own paths parse under a checked prefix");
            (pattern, methods, op)
        })
        .collect()
}

/// A path parameter that must be a number (`{partition}`).
pub fn partition_param(params: &[(String, String)]) -> Option<Result<i32, String>> {
    let (_, text) = params.iter().find(|(name, _)| name == "partition")?;
    Some(
        text.parse::<i32>()
            .ok()
            .filter(|p| *p >= 0)
            .ok_or_else(|| format!("partition {text:?} is not a partition number")),
    )
}

/// A path parameter by name.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_parses_under_a_prefix_and_none_shadows_another() {
        for prefix in ["", "/kafka", "/a/b"] {
            crate::config::check_prefix(prefix).unwrap();
            let ops = operations(prefix);
            for (i, (a, ma, _)) in ops.iter().enumerate() {
                for (b, mb, _) in &ops[i + 1..] {
                    let clash = a.same_shape(b) && ma.iter().any(|m| mb.contains(m));
                    assert!(!clash, "{a} and {b} share a method");
                }
            }
        }
        for bad in ["kafka", "/kafka/", "/{x}", "/a//b"] {
            assert!(crate::config::check_prefix(bad).is_err(), "{bad}");
        }
    }
}
