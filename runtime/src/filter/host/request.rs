use std::sync::Arc;

use wasmtime::component::Resource;

use crate::exchange::{Access, RequestInfo};
use crate::filter::bindings::wafka::filter::types::{self, Header, HostRequest};
use crate::filter::store::StoreData;

/// The request as a host resource: filters hold a handle, the data stays here.
pub struct RequestRef(pub Arc<RequestInfo>);

impl StoreData {
    fn request(&self, handle: &Resource<RequestRef>) -> wasmtime::Result<&RequestInfo> {
        Ok(&self.table.get(handle)?.0)
    }
}

impl HostRequest for StoreData {
    fn id(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<String> {
        Ok(self.request(&this)?.id.clone())
    }

    fn method(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<String> {
        Ok(self.request(&this)?.method.clone())
    }

    fn path(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<String> {
        Ok(self.request(&this)?.path.clone())
    }

    fn query(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<Option<String>> {
        Ok(self.request(&this)?.query.clone())
    }

    fn route(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<String> {
        Ok(self.request(&this)?.route.to_string())
    }

    fn param(
        &mut self,
        this: Resource<RequestRef>,
        name: String,
    ) -> wasmtime::Result<Option<String>> {
        let req = self.request(&this)?;
        Ok(req
            .params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone()))
    }

    fn params(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.request(&this)?.params.clone())
    }

    fn header(
        &mut self,
        this: Resource<RequestRef>,
        name: String,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        let req = self.request(&this)?;
        Ok(req
            .headers
            .get(name.as_str())
            .map(|v| v.as_bytes().to_vec()))
    }

    fn headers(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<Vec<Header>> {
        let req = self.request(&this)?;
        Ok(req
            .headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_owned(),
                value: value.as_bytes().to_vec(),
            })
            .collect())
    }

    fn access(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<types::Access> {
        Ok(match self.request(&this)?.access {
            Access::Read => types::Access::Read,
            Access::Write => types::Access::Write,
        })
    }

    fn client_addr(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<String> {
        Ok(self.request(&this)?.client.to_string())
    }

    fn client_subject(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<Option<String>> {
        Ok(self.request(&this)?.client_subject.clone())
    }

    fn received_at(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<u64> {
        Ok(self.request(&this)?.received_at_ms)
    }

    fn body_size(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<u64> {
        Ok(self.request(&this)?.body.len() as u64)
    }

    fn body(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.request(&this)?.body.to_vec())
    }

    fn drop(&mut self, this: Resource<RequestRef>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
