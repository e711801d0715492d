use bytes::Bytes;
use wasmtime::component::Resource;

use crate::exchange::Record;
use crate::filter::bindings::wafka::filter::types::{self, Header, HostRecord};
use crate::filter::output;
use crate::filter::store::StoreData;

impl types::Host for StoreData {}

/// Bytes a record holds: what it will cost to produce.
fn size(record: &Record) -> usize {
    let data = |b: &Option<Bytes>| b.as_ref().map_or(0, Bytes::len);
    let headers: usize = record.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    record.topic.len() + data(&record.key) + data(&record.value) + headers
}

impl StoreData {
    fn record(&mut self, handle: &Resource<Record>) -> wasmtime::Result<&mut Record> {
        Ok(self.table.get_mut(handle)?)
    }
}

impl HostRecord for StoreData {
    fn new(&mut self, topic: String) -> wasmtime::Result<Resource<Record>> {
        output::topic(&topic)?;
        self.budget.record(topic.len())?;
        Ok(self.table.push(Record::new(topic))?)
    }

    fn duplicate(&mut self, this: Resource<Record>) -> wasmtime::Result<Resource<Record>> {
        // Bytes clones share the buffers: no copy of the value, but the copy counts as output.
        let copy = self.record(&this)?.clone();
        self.budget.record(size(&copy))?;
        Ok(self.table.push(copy)?)
    }

    fn topic(&mut self, this: Resource<Record>) -> wasmtime::Result<String> {
        Ok(self.record(&this)?.topic.clone())
    }

    fn set_topic(&mut self, this: Resource<Record>, topic: String) -> wasmtime::Result<()> {
        output::topic(&topic)?;
        self.record(&this)?.topic = topic;
        Ok(())
    }

    fn key(&mut self, this: Resource<Record>) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.record(&this)?.key.as_ref().map(|k| k.to_vec()))
    }

    fn set_key(&mut self, this: Resource<Record>, key: Option<Vec<u8>>) -> wasmtime::Result<()> {
        self.budget.bytes(key.as_ref().map_or(0, Vec::len))?;
        self.record(&this)?.key = key.map(Bytes::from);
        Ok(())
    }

    fn value(&mut self, this: Resource<Record>) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.record(&this)?.value.as_ref().map(|v| v.to_vec()))
    }

    fn value_size(&mut self, this: Resource<Record>) -> wasmtime::Result<u64> {
        Ok(self
            .record(&this)?
            .value
            .as_ref()
            .map_or(0, |v| v.len() as u64))
    }

    fn set_value(
        &mut self,
        this: Resource<Record>,
        value: Option<Vec<u8>>,
    ) -> wasmtime::Result<()> {
        self.budget.bytes(value.as_ref().map_or(0, Vec::len))?;
        self.record(&this)?.value = value.map(Bytes::from);
        Ok(())
    }

    fn headers(&mut self, this: Resource<Record>) -> wasmtime::Result<Vec<Header>> {
        Ok(self
            .record(&this)?
            .headers
            .iter()
            .map(|(name, value)| Header {
                name: name.clone(),
                value: value.to_vec(),
            })
            .collect())
    }

    fn header(
        &mut self,
        this: Resource<Record>,
        name: String,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        let record = self.record(&this)?;
        Ok(record
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_vec()))
    }

    fn set_header(
        &mut self,
        this: Resource<Record>,
        name: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<()> {
        output::header_name(&name)?;
        self.budget.bytes(name.len() + value.len())?;
        let record = self.record(&this)?;
        record.headers.retain(|(n, _)| *n != name);
        record.headers.push((name, Bytes::from(value)));
        Ok(())
    }

    fn add_header(
        &mut self,
        this: Resource<Record>,
        name: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<()> {
        output::header_name(&name)?;
        self.budget.bytes(name.len() + value.len())?;
        self.record(&this)?.headers.push((name, Bytes::from(value)));
        Ok(())
    }

    fn remove_header(&mut self, this: Resource<Record>, name: String) -> wasmtime::Result<()> {
        self.record(&this)?.headers.retain(|(n, _)| *n != name);
        Ok(())
    }

    fn partition(&mut self, this: Resource<Record>) -> wasmtime::Result<Option<i32>> {
        Ok(self.record(&this)?.partition)
    }

    fn set_partition(
        &mut self,
        this: Resource<Record>,
        partition: Option<i32>,
    ) -> wasmtime::Result<()> {
        output::partition(partition)?;
        self.record(&this)?.partition = partition;
        Ok(())
    }

    fn timestamp(&mut self, this: Resource<Record>) -> wasmtime::Result<Option<i64>> {
        Ok(self.record(&this)?.timestamp)
    }

    fn set_timestamp(
        &mut self,
        this: Resource<Record>,
        timestamp: Option<i64>,
    ) -> wasmtime::Result<()> {
        self.record(&this)?.timestamp = timestamp;
        Ok(())
    }

    fn offset(&mut self, this: Resource<Record>) -> wasmtime::Result<Option<i64>> {
        Ok(self.record(&this)?.offset)
    }

    fn drop(&mut self, this: Resource<Record>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
