"""The PyPI package kafka-bridge-client, unchanged, in its Confluent REST Proxy mode against
Wafka: produce JSON and binary records, create a consumer, subscribe, read, commit, delete.
Prints one JSON line per step for the Rust test to check.

usage: rest_proxy_client.py BASE_URL TOPIC GROUP
"""
import asyncio
import json
import sys

from kafka_bridge_client import KafkaBridgeConsumer, KafkaBridgeProducer

base, topic, group = sys.argv[1:4]


def say(**fields):
    print(json.dumps(fields), flush=True)


producer = KafkaBridgeProducer(base, timeout=30)
producer.sends(topic, [{"key": "k1", "value": {"n": 1}}, {"key": "k2", "value": {"n": 2}}])
producer.send(topic, {"key": "k3", "value": b"\x00\x01binary"}, binary=True)
say(step="produced", records=3)


async def consume():
    consumer = KafkaBridgeConsumer(
        topic,
        bootstrap_server=base + "/",
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_name="py-consumer",
        proxy="confluent",
        sleep_interval_seconds=0,
        client_timeout_seconds=30,
    )
    async with consumer:
        say(step="subscribed")
        records = []
        while len(records) < 3:
            records += await consumer.poll_records(max_bytes=1_000_000, timeout=2000)
        say(step="read", records=records)
        await consumer.commit()
        say(step="committed")
    say(step="deleted")


asyncio.run(consume())
