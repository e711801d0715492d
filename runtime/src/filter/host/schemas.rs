//! The schema registry for filters (the WIT `schemas` interface): schemas are parsed once by
//! the registry and values checked, encoded and decoded where they live, so a record's value
//! never passes through the filter's memory. Time spent waiting for a remote registry is not
//! charged to the filter, as for identity providers.

use std::sync::Arc;

use bytes::Bytes;
use wasmtime::component::Resource;

use crate::exchange::Record;
use crate::filter::bindings::wafka::filter::schemas::{self, SchemaError, SchemaInfo};
use crate::filter::store::StoreData;
use crate::schemas::{Kind, Missing, Registry, Stored, framed};

type Answer<T> = wasmtime::Result<Result<T, SchemaError>>;

impl StoreData {
    /// The registry of the running filter's snapshot.
    fn registry(&self) -> Result<Arc<Registry>, SchemaError> {
        let step = self
            .step
            .as_ref()
            .ok_or_else(|| SchemaError::Unavailable("schemas used outside a filter call".into()))?;
        step.schemas
            .clone()
            .ok_or_else(|| SchemaError::Unavailable("the gateway has no [schema_registry]".into()))
    }

    /// The latest schema of `subject`, waiting for the registry if it must.
    async fn latest_of(&mut self, subject: &str) -> Result<(SchemaInfo, Arc<Stored>), SchemaError> {
        let registry = self.registry()?;
        let (version, stored) = registry.latest(subject).await.map_err(wit)?;
        Ok((info(&stored, version.version), stored))
    }

    /// The schema a wire-format value names, waiting for the registry if it must.
    async fn writer_of(&mut self, value: &[u8]) -> Result<Arc<Stored>, SchemaError> {
        let registry = self.registry()?;
        let (id, _) = framed(value).ok_or_else(|| {
            SchemaError::InvalidValue("not in the wire format (a zero byte, then the id)".into())
        })?;
        registry.by_id(id).await.map_err(wit)
    }

    /// Checks `value` by encoding it with the latest schema of `subject`, keeping nothing.
    async fn checked(&mut self, subject: &str, value: &[u8]) -> Result<SchemaInfo, SchemaError> {
        let (info, stored) = self.latest_of(subject).await?;
        encoded(&stored, value).map(|_| info)
    }

    fn record_value(&self, record: &Resource<Record>) -> wasmtime::Result<Option<Bytes>> {
        Ok(self.table.get(record)?.value.clone())
    }

    /// Replaces a record's value, charging the filter's output budget.
    fn replace_value(&mut self, record: &Resource<Record>, value: Vec<u8>) -> wasmtime::Result<()> {
        self.budget.bytes(value.len())?;
        self.table.get_mut(record)?.value = Some(Bytes::from(value));
        Ok(())
    }
}

fn info(stored: &Stored, version: u32) -> SchemaInfo {
    let schema_type = match stored.kind {
        Kind::Avro => "AVRO",
        Kind::Json => "JSON",
        Kind::Protobuf => "PROTOBUF",
    };
    SchemaInfo {
        id: stored.id,
        version,
        schema_type: schema_type.into(),
    }
}

fn wit(missing: Missing) -> SchemaError {
    match missing {
        Missing::NotFound(why) => SchemaError::NotFound(why),
        Missing::Unavailable(why) => SchemaError::Unavailable(why),
    }
}

fn encoded(stored: &Stored, json: &[u8]) -> Result<Vec<u8>, SchemaError> {
    let result = stored.parsed.encode(stored.id, json);
    crate::schemas::records::count_encode(result.is_ok());
    result.map_err(|problems| match problems.first() {
        Some(p) if p.starts_with("(the value): not JSON") => SchemaError::InvalidValue(p.clone()),
        _ => SchemaError::Mismatch(problems),
    })
}

fn decoded(stored: &Stored, value: &[u8]) -> Result<Vec<u8>, SchemaError> {
    let payload = framed(value).map_or(&[][..], |(_, payload)| payload);
    let result = stored.parsed.decode(payload);
    crate::schemas::records::count_decode(result.is_ok());
    let json = result.map_err(|e| {
        SchemaError::InvalidValue(format!("does not decode with schema {}: {e}", stored.id))
    })?;
    Ok(json.to_string().into_bytes())
}

fn no_value() -> SchemaError {
    SchemaError::InvalidValue("the record has no value".into())
}

impl schemas::Host for StoreData {
    async fn latest(&mut self, subject: String) -> Answer<SchemaInfo> {
        Ok(self.latest_of(&subject).await.map(|(info, _)| info))
    }

    async fn validate(&mut self, subject: String, value: Vec<u8>) -> Answer<SchemaInfo> {
        Ok(self.checked(&subject, &value).await)
    }

    async fn encode(&mut self, subject: String, value: Vec<u8>) -> Answer<Vec<u8>> {
        let latest = self.latest_of(&subject).await;
        Ok(latest.and_then(|(_, stored)| encoded(&stored, &value)))
    }

    async fn decode(&mut self, value: Vec<u8>) -> Answer<(SchemaInfo, Vec<u8>)> {
        let writer = self.writer_of(&value).await;
        Ok(writer.and_then(|stored| decoded(&stored, &value).map(|json| (info(&stored, 0), json))))
    }

    async fn validate_record(
        &mut self,
        subject: String,
        record: Resource<Record>,
    ) -> Answer<SchemaInfo> {
        let Some(value) = self.record_value(&record)? else {
            return Ok(Err(no_value()));
        };
        Ok(self.checked(&subject, &value).await)
    }

    async fn encode_record(
        &mut self,
        subject: String,
        record: Resource<Record>,
    ) -> Answer<SchemaInfo> {
        let Some(value) = self.record_value(&record)? else {
            return Ok(Err(no_value()));
        };
        let (info, stored) = match self.latest_of(&subject).await {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        match encoded(&stored, &value) {
            Ok(out) => self.replace_value(&record, out).map(|()| Ok(info)),
            Err(e) => Ok(Err(e)),
        }
    }

    async fn decode_record(&mut self, record: Resource<Record>) -> Answer<SchemaInfo> {
        let Some(value) = self.record_value(&record)? else {
            return Ok(Err(no_value()));
        };
        let stored = match self.writer_of(&value).await {
            Ok(stored) => stored,
            Err(e) => return Ok(Err(e)),
        };
        match decoded(&stored, &value) {
            Ok(json) => self
                .replace_value(&record, json)
                .map(|()| Ok(info(&stored, 0))),
            Err(e) => Ok(Err(e)),
        }
    }
}
