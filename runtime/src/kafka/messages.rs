//! A consumer's messages taken from librdkafka many at a time, and read without a panic.
//!
//! rdkafka's `poll` takes one message per call: a lock, a clock read and an event each. Reads
//! catching up take hundreds of thousands a second, so they pop what librdkafka has fetched
//! in one call (`rd_kafka_consume_batch_queue`, as confluent-kafka-python's `consume` does).
//! And rdkafka's header reader unwraps a header name that is not UTF-8, which any client can
//! write: names are read here, lossily.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_void};
use std::ptr;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::ClientContext as _;
use rdkafka::bindings as rd;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;

use crate::exchange::Record;

/// Most records taken from librdkafka in one call.
pub const MOST_AT_ONCE: usize = 256;

/// A consumer the gateway takes records from many at a time. Its logs go to a queue of its own
/// from the start, passed on to its context each time it is used: left on the consumer's
/// queue, a batch call would print them raw to stderr, outside the gateway's log. librdkafka's
/// errors (a broker down) come as logs this way, not as messages.
///
/// It is assigned partitions, never subscribed, and never commits: a batch call cannot pass a
/// rebalance or a commit's result on (see [`Fetcher::new`]).
pub struct Fetcher {
    consumer: BaseConsumer,
    messages: *mut rd::rd_kafka_queue_t,
    logs: *mut rd::rd_kafka_queue_t,
}

// SAFETY: librdkafka's queue handles may be used from any thread, as the consumer may.
unsafe impl Send for Fetcher {}
unsafe impl Sync for Fetcher {}

impl Fetcher {
    /// A consumer created from `config`, with auto-commit turned off whatever it says (its
    /// result would reach a batch call, which cannot take it). `None` without a `group.id`.
    pub fn new(mut config: rdkafka::ClientConfig) -> Result<Option<Fetcher>, KafkaError> {
        config.set("enable.auto.commit", "false");
        let consumer: BaseConsumer = config.create()?;
        let rk = consumer.client().native_ptr();
        // SAFETY: the client pointer is valid while `consumer` is; both references taken are
        // released in `drop`, before the consumer is.
        unsafe {
            let messages = rd::rd_kafka_queue_get_consumer(rk);
            if messages.is_null() {
                return Ok(None);
            }
            let logs = rd::rd_kafka_queue_new(rk);
            rd::rd_kafka_set_log_queue(rk, logs);
            Ok(Some(Fetcher {
                consumer,
                messages,
                logs,
            }))
        }
    }

    /// Replaces `batch` with at most `max` messages: those fetched already, or when there are
    /// none, the first to arrive within `wait`; an empty batch means none came. Returns the
    /// first error librdkafka reported meanwhile (logged as well).
    pub fn pop<'f>(&'f self, batch: &mut Batch<'f>, max: usize, wait: Duration) -> Option<String> {
        batch.clear();
        if max > 0 {
            batch.messages.reserve(max);
            if self.pop_into(batch, max, 0) == 0 && !wait.is_zero() {
                // librdkafka's batch call waits for all `max` or the timeout: ask for one.
                let ms = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
                self.pop_into(batch, 1, ms);
            }
        }
        self.pass_logs_on()
    }

    /// Hands the logs queued so far to the consumer's context, as rdkafka's poll would, and
    /// returns the first error among them (librdkafka logs its errors as `ERROR`).
    pub fn pass_logs_on(&self) -> Option<String> {
        let mut error = None;
        loop {
            // SAFETY: our log queue; each event is destroyed once, its strings read before.
            unsafe {
                let event = rd::rd_kafka_queue_poll(self.logs, 0);
                if event.is_null() {
                    return error;
                }
                let (mut facility, mut text, mut level) = (ptr::null(), ptr::null(), 0);
                if rd::rd_kafka_event_type(event) == rd::RD_KAFKA_EVENT_LOG
                    && rd::rd_kafka_event_log(event, &mut facility, &mut text, &mut level) == 0
                    && !facility.is_null()
                    && !text.is_null()
                {
                    let facility = CStr::from_ptr(facility).to_string_lossy();
                    let text = CStr::from_ptr(text).to_string_lossy();
                    self.consumer
                        .context()
                        .log(log_level(level), &facility, &text);
                    if facility == "ERROR" && error.is_none() {
                        error = Some(text.into_owned());
                    }
                }
                rd::rd_kafka_event_destroy(event);
            }
        }
    }

    fn pop_into(&self, batch: &mut Batch<'_>, max: usize, timeout_ms: i32) -> usize {
        let spare = batch.messages.spare_capacity_mut();
        let max = max.min(spare.len());
        // SAFETY: librdkafka writes at most `max` message pointers into the spare capacity
        // and returns how many (or -1, with none written).
        let n = unsafe {
            rd::rd_kafka_consume_batch_queue(
                self.messages,
                timeout_ms,
                spare.as_mut_ptr().cast::<*mut rd::rd_kafka_message_t>(),
                max,
            )
        };
        let n = usize::try_from(n).unwrap_or(0).min(max);
        // SAFETY: the first `n` were written.
        unsafe { batch.messages.set_len(batch.messages.len() + n) };
        n
    }
}

impl std::ops::Deref for Fetcher {
    type Target = BaseConsumer;

    fn deref(&self) -> &BaseConsumer {
        &self.consumer
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        self.pass_logs_on();
        // SAFETY: the references taken in `new`, released once, before the consumer (a field)
        // is dropped. The log queue lives on while librdkafka forwards to it.
        unsafe {
            rd::rd_kafka_queue_destroy(self.logs);
            rd::rd_kafka_queue_destroy(self.messages);
        }
    }
}

/// A syslog level as rdkafka's.
fn log_level(level: i32) -> RDKafkaLogLevel {
    match level {
        ..=0 => RDKafkaLogLevel::Emerg,
        1 => RDKafkaLogLevel::Alert,
        2 => RDKafkaLogLevel::Critical,
        3 => RDKafkaLogLevel::Error,
        4 => RDKafkaLogLevel::Warning,
        5 => RDKafkaLogLevel::Notice,
        6 => RDKafkaLogLevel::Info,
        _ => RDKafkaLogLevel::Debug,
    }
}

/// Messages popped by a [`Fetcher`], destroyed when cleared or dropped (before the consumer,
/// as librdkafka requires).
pub struct Batch<'c> {
    messages: Vec<*mut rd::rd_kafka_message_t>,
    _consumer: PhantomData<&'c Fetcher>,
}

impl<'c> Batch<'c> {
    /// An empty batch.
    pub fn new() -> Self {
        Batch {
            messages: Vec::new(),
            _consumer: PhantomData,
        }
    }

    /// The messages, in the order librdkafka delivered them.
    pub fn iter(&self) -> impl Iterator<Item = Raw<'_>> {
        // SAFETY: each pointer is a live message until `clear`, which needs `&mut self`.
        self.messages.iter().map(|&m| Raw(m, PhantomData))
    }

    fn clear(&mut self) {
        for m in self.messages.drain(..) {
            // SAFETY: popped from librdkafka, destroyed once.
            unsafe { rd::rd_kafka_message_destroy(m) };
        }
    }
}

impl Default for Batch<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// One message, borrowed from librdkafka. A pointer, not a reference: librdkafka writes into
/// the message it belongs to (the headers it parses).
#[derive(Clone, Copy)]
pub struct Raw<'a>(*mut rd::rd_kafka_message_t, PhantomData<&'a ()>);

impl<'a> Raw<'a> {
    fn fields(&self) -> &'a rd::rd_kafka_message_t {
        // SAFETY: a live message for 'a; the fields read here are never written after the
        // message is handed out.
        unsafe { &*self.0 }
    }

    /// A message rdkafka handed out.
    pub fn of(message: &'a rdkafka::message::BorrowedMessage<'_>) -> Raw<'a> {
        Raw(message.ptr(), PhantomData)
    }

    /// What librdkafka reported instead of a message (a fetch or connection error).
    pub fn error(&self) -> Option<KafkaError> {
        let err = self.fields().err;
        (err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
            .then(|| KafkaError::MessageConsumption(err.into()))
    }

    /// The partition it was read from.
    pub fn partition(&self) -> i32 {
        self.fields().partition
    }

    /// Its offset in the partition.
    pub fn offset(&self) -> i64 {
        self.fields().offset
    }

    /// Its key; `None` for a null key.
    pub fn key(&self) -> Option<&'a [u8]> {
        slice(self.fields().key, self.fields().key_len)
    }

    /// Its value; `None` for a null value.
    pub fn payload(&self) -> Option<&'a [u8]> {
        slice(self.fields().payload, self.fields().len)
    }

    /// Milliseconds since the epoch, when the record has a timestamp.
    pub fn timestamp(&self) -> Option<i64> {
        let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: a live message.
        let t = unsafe { rd::rd_kafka_message_timestamp(self.0, &mut kind) };
        (t != -1 && kind != rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
            .then_some(t)
    }

    /// Headers in order; a name that is not UTF-8 is read lossily.
    pub fn headers(&self) -> Vec<(String, Bytes)> {
        let mut headers = ptr::null_mut();
        // SAFETY: a live message; the headers it returns belong to it.
        let err = unsafe { rd::rd_kafka_message_headers(self.0, &mut headers) };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || headers.is_null() {
            return Vec::new();
        }
        read_headers(headers)
    }

    /// The name of the topic it was read from.
    pub fn topic(&self) -> String {
        // SAFETY: a live message's topic handle, whose name is a C string.
        let name = unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(self.fields().rkt)) };
        name.to_string_lossy().into_owned()
    }

    /// The message as the gateway's record of `topic` (the topic it was read from).
    pub fn record(&self, topic: String) -> Record {
        Record {
            topic,
            key: self.key().map(Bytes::copy_from_slice),
            value: self.payload().map(Bytes::copy_from_slice),
            headers: self.headers(),
            partition: Some(self.partition()),
            timestamp: self.timestamp(),
            offset: Some(self.offset()),
        }
    }
}

fn read_headers(headers: *const rd::rd_kafka_headers_t) -> Vec<(String, Bytes)> {
    // SAFETY: `headers` is a live header list.
    let count = unsafe { rd::rd_kafka_header_cnt(headers) };
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (mut name, mut value, mut size): (*const c_char, *const c_void, usize) =
            (ptr::null(), ptr::null(), 0);
        // SAFETY: `i` is below the count; the pointers written belong to the list.
        let err =
            unsafe { rd::rd_kafka_header_get_all(headers, i, &mut name, &mut value, &mut size) };
        if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            continue;
        }
        // SAFETY: a header name is a NUL-terminated C string.
        let name = unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned();
        let value = slice(value, size)
            .map(Bytes::copy_from_slice)
            .unwrap_or_default();
        out.push((name, value));
    }
    out
}

fn slice<'a, T>(data: *const T, len: usize) -> Option<&'a [u8]> {
    // SAFETY: librdkafka's (pointer, length) pairs name `len` readable bytes, or are null.
    (!data.is_null()).then(|| unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header name any client can write that is not UTF-8 is read, not a panic.
    #[test]
    fn header_names_that_are_not_utf8_are_read_lossily() {
        // SAFETY: a header list built and destroyed here.
        unsafe {
            let headers = rd::rd_kafka_headers_new(2);
            let name = [0xffu8, b'x'];
            let value = b"v1";
            rd::rd_kafka_header_add(
                headers,
                name.as_ptr().cast(),
                name.len() as isize,
                value.as_ptr().cast(),
                value.len() as isize,
            );
            rd::rd_kafka_header_add(headers, c"ok".as_ptr(), -1, ptr::null(), 0);
            let read = read_headers(headers);
            rd::rd_kafka_headers_destroy(headers);
            assert_eq!(
                read,
                vec![
                    ("\u{fffd}x".to_owned(), Bytes::from_static(b"v1")),
                    ("ok".to_owned(), Bytes::new()),
                ]
            );
        }
    }
}
