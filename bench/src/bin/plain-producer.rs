//! The no-gateway baseline for batch throughput: a plain rdkafka producer with the gateway's
//! producer defaults, sending COUNT records of SIZE bytes to TOPIC and waiting for every ack.
//! Also counts what a topic holds, so the bench can check that what was acknowledged arrived.
//!
//! ```text
//! plain-producer produce BOOTSTRAP TOPIC COUNT SIZE   → "records/s N" on stdout
//! plain-producer count   BOOTSTRAP TOPIC              → "records N" on stdout
//! plain-producer consume BOOTSTRAP TOPIC COUNT        → "records/s N": the read baseline
//! plain-producer timed   BOOTSTRAP TOPIC RATE SECONDS → RATE records/s of {"sent_us": now}
//! ```

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["produce", bootstrap, topic, count, size] => {
            let count: usize = count.parse().expect("COUNT is a number");
            let size: usize = size.parse().expect("SIZE is a number");
            let rate = runtime.block_on(produce(bootstrap, topic, count, size));
            println!("records/s {rate:.0}");
        }
        ["count", bootstrap, topic] => println!("records {}", count(bootstrap, topic)),
        ["consume", bootstrap, topic, n] => {
            let n: usize = n.parse().expect("COUNT is a number");
            println!("records/s {:.0}", consume(bootstrap, topic, n));
        }
        ["timed", bootstrap, topic, rate, seconds] => {
            let rate: u64 = rate.parse().expect("RATE is a number");
            let seconds: u64 = seconds.parse().expect("SECONDS is a number");
            runtime.block_on(timed(bootstrap, topic, rate, seconds));
        }
        _ => {
            eprintln!(
                "usage: plain-producer produce BOOTSTRAP TOPIC COUNT SIZE | count BOOTSTRAP TOPIC \
                 | consume BOOTSTRAP TOPIC COUNT | timed BOOTSTRAP TOPIC RATE SECONDS"
            );
            std::process::exit(2);
        }
    }
}

/// The gateway's defaults (runtime/src/kafka/properties.rs), so only the gateway differs.
fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "30000")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

async fn produce(bootstrap: &str, topic: &str, count: usize, size: usize) -> f64 {
    let producer = producer(bootstrap);
    let value = format!(
        "{{\"event\":\"page_view\",\"pad\":\"{}\"}}",
        "x".repeat(size.saturating_sub(32))
    );
    let started = Instant::now();
    // Sent in windows of 10 000 so the queue never fills; each window waits for its acks.
    let mut sent = 0;
    while sent < count {
        let window = (count - sent).min(10_000);
        let mut acks = Vec::with_capacity(window);
        for _ in 0..window {
            let record: FutureRecord<'_, (), str> = FutureRecord::to(topic).payload(&value);
            acks.push(
                producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("queue"),
            );
        }
        for ack in acks {
            ack.await
                .expect("delivery report")
                .map_err(|(e, _)| e)
                .expect("acknowledged");
        }
        sent += window;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// Reads `n` records of the topic from the beginning, as fast as librdkafka goes.
fn consume(bootstrap: &str, topic: &str, n: usize) -> f64 {
    let consumer = reader(bootstrap, topic);
    let started = Instant::now();
    let mut read = 0;
    while read < n {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            message.expect("consume");
            read += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Produces `rate` records a second for `seconds`, each `{"sent_us": <now in µs>}`.
async fn timed(bootstrap: &str, topic: &str, rate: u64, seconds: u64) {
    let producer = producer(bootstrap);
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let end = Instant::now() + Duration::from_secs(seconds);
    loop {
        // The first tick is at once: checked after the tick, RATE × SECONDS are sent, not one more.
        ticks.tick().await;
        if Instant::now() >= end {
            break;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros();
        let value = format!("{{\"sent_us\":{now}}}");
        let record: FutureRecord<'_, (), str> = FutureRecord::to(topic).payload(&value);
        let _ = producer.send_result(record);
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

fn reader(bootstrap: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("count-{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut partitions = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        partitions
            .add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    consumer
}

/// Reads the whole topic from the beginning until nothing new arrives for 3 s.
fn count(bootstrap: &str, topic: &str) -> usize {
    let consumer = reader(bootstrap, topic);
    let mut n = 0;
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(3) {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            message.expect("consume");
            n += 1;
            last = Instant::now();
        }
    }
    n
}
