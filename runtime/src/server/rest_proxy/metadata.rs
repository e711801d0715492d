//! Metadata: v2 `GET /topics[/{t}[/partitions[/{p}]]]`, `GET /brokers`; v3 clusters, topics
//! (list, get, and, with `rest_proxy.topic_admin`, create and delete) and partitions, with
//! the `kind`/`metadata`/`related` links v3 clients follow. Topic configs are not served
//! (v2 `configs` is empty; v3 links to no configs endpoint).

use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::records::cluster_id;
use super::{allow, base_url, field, json_body, no_content, ok};
use crate::error::RequestError;
use crate::kafka::cluster::{PartitionInfo, TopicInfo, check_new_topic};
use crate::rest_proxy::{Op, param, partition_param};
use crate::server::call::Call;
use crate::server::pipeline::blocking;
use crate::server::rescue::Failure;
use crate::server::{HttpResponse, Services};
use crate::snapshot::Route;

/// The topic and partition a path names (empty topic for none).
fn target(params: &[(String, String)]) -> Result<(String, Option<i32>), RequestError> {
    let partition = partition_param(params)
        .transpose()
        .map_err(RequestError::BadRequest)?;
    Ok((param(params, "topic").to_owned(), partition))
}

fn partition_of(topic: &TopicInfo, id: i32) -> Result<&PartitionInfo, RequestError> {
    topic
        .partitions
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| RequestError::PartitionNotFound {
            topic: topic.name.clone(),
            partition: id,
        })
}

/// v2 metadata.
pub(super) async fn v2(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    op: Op,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let (topic, partition) = target(&params)?;
    let (parts, _) = req.into_parts();
    let topics: Vec<String> = if topic.is_empty() {
        vec![]
    } else {
        vec![topic.clone()]
    };
    allow(call, services, route, parts, params, &topics).await?;
    let cluster = services.producing.cluster.clone();
    let v2_partition = |p: &PartitionInfo| {
        let replicas: Vec<Value> = p
            .replicas
            .iter()
            .map(|b| json!({"broker": b, "leader": *b == p.leader, "in_sync": p.in_sync.contains(b)}))
            .collect();
        json!({"partition": p.id, "leader": p.leader, "replicas": replicas})
    };
    let body = match op {
        Op::Brokers => {
            let brokers = blocking(move || cluster.brokers()).await?;
            json!({ "brokers": brokers })
        }
        Op::Topics => {
            let topics = blocking(move || cluster.topics()).await?;
            json!(topics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>())
        }
        _ => {
            let t = blocking(move || cluster.topic(&topic)).await?;
            match (op, partition) {
                (Op::Topic, _) => json!({
                    "name": t.name,
                    "configs": {},
                    "partitions": t.partitions.iter().map(v2_partition).collect::<Vec<_>>(),
                }),
                (Op::Partitions, _) => {
                    json!(t.partitions.iter().map(v2_partition).collect::<Vec<_>>())
                }
                (_, Some(p)) => v2_partition(partition_of(&t, p)?),
                _ => {
                    return Err(
                        RequestError::Internal(format!("{op:?} without a partition")).into(),
                    );
                }
            }
        }
    };
    ok(StatusCode::OK, false, &body)
}

/// v3 metadata and topic administration.
pub(super) async fn v3(
    call: &mut Call<'_>,
    services: &Services,
    route: &Arc<Route>,
    op: Op,
    params: Vec<(String, String)>,
    req: http::Request<Incoming>,
) -> Result<HttpResponse, Failure> {
    let (mut topic, partition) = target(&params)?;
    let (parts, incoming) = req.into_parts();
    let base = format!(
        "{}/v3/clusters",
        base_url(call, services, &parts.headers, &parts.uri)
    );
    let method = parts.method.clone();
    let creating = op == Op::V3Topics && method == http::Method::POST;
    let deleting = op == Op::V3Topic && method == http::Method::DELETE;
    let mut create = None;
    if creating || deleting {
        let admin = call
            .snapshot
            .config
            .rest_proxy
            .as_ref()
            .is_some_and(|c| c.topic_admin);
        if !admin {
            return Err(RequestError::Forbidden(
                "creating and deleting topics is off (rest_proxy.topic_admin)".into(),
            )
            .into());
        }
    }
    if creating {
        let body = json_body(call, services, &parts.headers, incoming)
            .await?
            .ok_or_else(|| RequestError::BadRequest("the body must name topic_name".into()))?;
        let request = CreateTopic::from(&body)?;
        topic = request.name.clone();
        create = Some(request);
    }
    let topics: Vec<String> = if topic.is_empty() {
        vec![]
    } else {
        vec![topic.clone()]
    };
    allow(call, services, route, parts, params.clone(), &topics).await?;
    let backend = services.producing.cluster.clone();
    let cluster_id = match op {
        Op::Clusters => {
            let backend = backend.clone();
            blocking(move || backend.id()).await?
        }
        _ => cluster_id(services, &params).await?,
    };
    let cluster = Links {
        base,
        id: cluster_id,
    };
    if let Some(create) = create {
        if !create.validate_only {
            backend
                .create_topic(
                    &create.name,
                    create.partitions,
                    create.replication,
                    &create.configs,
                )
                .await?;
        }
        let name = create.name.clone();
        let asked = backend.clone();
        let info = blocking(move || asked.topic(&name)).await;
        let body = match info {
            Ok(info) => cluster.topic(&info),
            // Just created: metadata may lag a moment; answer with what was asked for.
            Err(_) => cluster.topic(&TopicInfo {
                name: create.name.clone(),
                internal: false,
                partitions: Vec::new(),
            }),
        };
        let status = if create.validate_only {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        let mut response = ok(status, true, &body)?;
        if let Some(location) = body["metadata"]["self"].as_str()
            && let Ok(v) = http::HeaderValue::from_str(location)
        {
            response.headers_mut().insert(http::header::LOCATION, v);
        }
        return Ok(response);
    }
    if deleting {
        backend.delete_topic(&topic).await?;
        return Ok(no_content());
    }
    let body = match op {
        Op::Clusters | Op::Cluster => {
            let asked = backend.clone();
            let controller = blocking(move || asked.controller()).await?;
            let one = cluster.cluster(controller);
            match op {
                Op::Cluster => one,
                _ => json!({
                    "kind": "KafkaClusterList",
                    "metadata": {"self": cluster.base, "next": null},
                    "data": [one],
                }),
            }
        }
        Op::V3Topics => {
            let topics = blocking(move || backend.topics()).await?;
            json!({
                "kind": "KafkaTopicList",
                "metadata": {"self": format!("{}/topics", cluster.url()), "next": null},
                "data": topics.iter().map(|t| cluster.topic(t)).collect::<Vec<_>>(),
            })
        }
        _ => {
            let t = blocking(move || backend.topic(&topic)).await?;
            match (op, partition) {
                (Op::V3Topic, _) => cluster.topic(&t),
                (Op::V3Partitions, _) => json!({
                    "kind": "KafkaPartitionList",
                    "metadata": {"self": format!("{}/topics/{}/partitions", cluster.url(), t.name), "next": null},
                    "data": t.partitions.iter().map(|p| cluster.partition(&t.name, p)).collect::<Vec<_>>(),
                }),
                (_, Some(p)) => cluster.partition(&t.name, partition_of(&t, p)?),
                _ => {
                    return Err(
                        RequestError::Internal(format!("{op:?} without a partition")).into(),
                    );
                }
            }
        }
    };
    ok(StatusCode::OK, true, &body)
}

/// A v3 `POST …/topics` body.
pub(super) struct CreateTopic {
    name: String,
    partitions: Option<i32>,
    replication: Option<i32>,
    configs: Vec<(String, String)>,
    validate_only: bool,
}

impl CreateTopic {
    pub(super) fn from(body: &Value) -> Result<CreateTopic, RequestError> {
        let name: String = field(body, "topic_name")?
            .ok_or_else(|| RequestError::InvalidParameter("topic_name is required".into()))?;
        wafka_sdk::topic::check_name(&name).map_err(RequestError::InvalidParameter)?;
        #[derive(serde::Deserialize)]
        struct Config {
            name: String,
            value: Option<String>,
        }
        let configs: Vec<Config> = field(body, "configs")?.unwrap_or_default();
        let (partitions, replication) = check_new_topic(
            field(body, "partitions_count")?,
            field(body, "replication_factor")?,
        )?;
        Ok(CreateTopic {
            name,
            partitions,
            replication,
            configs: configs
                .into_iter()
                .filter_map(|c| Some((c.name, c.value?)))
                .collect(),
            validate_only: field(body, "validate_only")?.unwrap_or(false),
        })
    }
}

/// v3's resource documents and their links.
struct Links {
    /// `…/v3/clusters`
    base: String,
    id: String,
}

impl Links {
    fn url(&self) -> String {
        format!("{}/{}", self.base, self.id)
    }

    fn related(&self, path: &str) -> Value {
        json!({ "related": format!("{}{path}", self.url()) })
    }

    /// The cluster; `controller` links its controller broker (`null` when unknown).
    fn cluster(&self, controller: Option<i32>) -> Value {
        json!({
            "kind": "KafkaCluster",
            "metadata": {"self": self.url(), "resource_name": format!("crn:///kafka={}", self.id)},
            "cluster_id": self.id,
            "controller": controller.map(|id| self.related(&format!("/brokers/{id}"))),
            "acls": self.related("/acls"),
            "brokers": self.related("/brokers"),
            "broker_configs": self.related("/broker-configs"),
            "consumer_groups": self.related("/consumer-groups"),
            "topics": self.related("/topics"),
            "partition_reassignments": self.related("/topics/-/partitions/-/reassignment"),
        })
    }

    fn topic(&self, t: &TopicInfo) -> Value {
        let at = format!("/topics/{}", t.name);
        json!({
            "kind": "KafkaTopic",
            "metadata": {
                "self": format!("{}{at}", self.url()),
                "resource_name": format!("crn:///kafka={}/topic={}", self.id, t.name),
            },
            "cluster_id": self.id,
            "topic_name": t.name,
            "is_internal": t.internal,
            "replication_factor": t.partitions.first().map_or(0, |p| p.replicas.len()),
            "partitions_count": t.partitions.len(),
            "partitions": self.related(&format!("{at}/partitions")),
            "configs": self.related(&format!("{at}/configs")),
            "partition_reassignments": self.related(&format!("{at}/partitions/-/reassignment")),
            "authorized_operations": [],
        })
    }

    fn partition(&self, topic: &str, p: &PartitionInfo) -> Value {
        let at = format!("/topics/{topic}/partitions/{}", p.id);
        let leader = (p.leader >= 0).then(|| self.related(&format!("{at}/replicas/{}", p.leader)));
        json!({
            "kind": "KafkaPartition",
            "metadata": {
                "self": format!("{}{at}", self.url()),
                "resource_name": format!("crn:///kafka={}/topic={topic}/partition={}", self.id, p.id),
            },
            "cluster_id": self.id,
            "topic_name": topic,
            "partition_id": p.id,
            "leader": leader,
            "replicas": self.related(&format!("{at}/replicas")),
            "reassignment": self.related(&format!("{at}/reassignment")),
        })
    }
}
