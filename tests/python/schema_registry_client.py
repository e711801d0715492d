"""Confluent's own Python Schema Registry client and serializers, used unchanged against Wafka's
embedded registry (tests/suite/schemas.rs runs this). Each command prints one JSON line.

    schema_registry_client.py REGISTRY_URL register SUBJECT TYPE SCHEMA [REFERENCES_JSON]
    schema_registry_client.py REGISTRY_URL compatible SUBJECT TYPE SCHEMA
    schema_registry_client.py REGISTRY_URL level SUBJECT LEVEL
    schema_registry_client.py REGISTRY_URL consume BOOTSTRAP TOPIC TYPE COUNT
    schema_registry_client.py REGISTRY_URL produce BOOTSTRAP TOPIC TYPE SCHEMA VALUES_JSON
    schema_registry_client.py REGISTRY_URL subjects
    schema_registry_client.py REGISTRY_URL latest SUBJECT

With WAFKA_REGISTRY_TOKEN set, the client sends it as a static bearer token; with
WAFKA_REGISTRY_CA set, it trusts that CA file for an https URL. A refusal by the registry prints
{"error_code": ..., "status": ...} and exits 0.
"""

import base64
import json
import os
import sys
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf import timestamp_pb2  # noqa: F401  (the well-known types a schema imports)


def deserializer(client, kind, first):
    if kind == "AVRO":
        return AvroDeserializer(client)
    if kind == "JSON":
        return JSONDeserializer(None, schema_registry_client=client)
    # Protobuf needs the message class: built from the writer's schema, as fetched from the
    # registry in its serialized form (no generated code).
    schema_id = int.from_bytes(first[1:5], "big")
    schema = client.get_schema(schema_id, fmt="serialized")
    pool = descriptor_pool.DescriptorPool()
    file = add_file(client, pool, schema, None)
    message = pool.FindFileByName(file.name).message_types_by_name[file.message_type[0].name]
    decode = ProtobufDeserializer(message_factory.GetMessageClass(message), {"use.deprecated.format": False})
    return lambda data, context: json_format.MessageToDict(
        decode(data, context), preserving_proto_field_name=True
    )


def add_file(client, pool, schema, name):
    """Adds a serialized schema to the pool, after the files it imports: its references (as
    the registry names them) and Google's well-known types."""
    for reference in schema.references or []:
        registered = client.get_version(reference.subject, reference.version, fmt="serialized")
        add_file(client, pool, registered.schema, reference.name)
    file = descriptor_pb2.FileDescriptorProto.FromString(base64.standard_b64decode(schema.schema_str))
    if name:
        file.name = name
    for dependency in file.dependency:
        if dependency.startswith("google/protobuf/"):
            known = descriptor_pool.Default().FindFileByName(dependency)
            proto = descriptor_pb2.FileDescriptorProto()
            known.CopyToProto(proto)
            try:
                pool.Add(proto)
            except TypeError:
                pass  # already there
    pool.Add(file)
    return file


def serializer(client, kind, schema):
    if kind == "AVRO":
        return AvroSerializer(client, schema)
    return JSONSerializer(schema, client)


def client_config(url):
    conf = {"url": url}
    if os.environ.get("WAFKA_REGISTRY_TOKEN"):
        conf["bearer.auth.credentials.source"] = "STATIC_TOKEN"
        conf["bearer.auth.token"] = os.environ["WAFKA_REGISTRY_TOKEN"]
        conf["bearer.auth.logical.cluster"] = "wafka"
    if os.environ.get("WAFKA_REGISTRY_CA"):
        conf["ssl.ca.location"] = os.environ["WAFKA_REGISTRY_CA"]
    return conf


def main(url, command, *args):
    client = SchemaRegistryClient(client_config(url))
    try:
        if command == "register":
            subject, kind, schema, *references = args
            references = [
                SchemaReference(r["name"], r["subject"], r["version"])
                for r in json.loads(references[0] if references else "[]")
            ]
            schema = Schema(schema, kind, references=references)
            print(json.dumps({"id": client.register_schema(subject, schema)}))
        elif command == "compatible":
            subject, kind, schema = args
            ok = client.test_compatibility(subject, Schema(schema, kind))
            print(json.dumps({"is_compatible": ok}))
        elif command == "level":
            subject, level = args
            print(json.dumps(client.set_compatibility(subject, level)))
        elif command == "subjects":
            print(json.dumps({"subjects": client.get_subjects()}))
        elif command == "latest":
            (subject,) = args
            latest = client.get_latest_version(subject)
            print(json.dumps({"id": latest.schema_id, "version": latest.version}))
        elif command == "consume":
            bootstrap, topic, kind, count = args
            decode = None
            consumer = Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": f"schemas-{uuid.uuid4()}",
                    "auto.offset.reset": "earliest",
                }
            )
            consumer.subscribe([topic])
            values = []
            while len(values) < int(count):
                message = consumer.poll(30)
                if message is None:
                    raise SystemExit(f"no record within 30 s; got {values}")
                if message.error():
                    raise SystemExit(str(message.error()))
                context = SerializationContext(topic, MessageField.VALUE)
                decode = decode or deserializer(client, kind, message.value())
                values.append(decode(message.value(), context))
            consumer.close()
            print(json.dumps(values))
        elif command == "produce":
            bootstrap, topic, kind, schema, values = args
            encode = serializer(client, kind, schema)
            producer = Producer({"bootstrap.servers": bootstrap})
            values = json.loads(values)
            for value in values:
                context = SerializationContext(topic, MessageField.VALUE)
                producer.produce(topic, value=encode(value, context))
                # One record per batch: tansu 0.6.0 answers a fetch from inside a batch with
                # the batches after it (tests/suite/read.rs).
                if producer.flush(30) != 0:
                    raise SystemExit("a record was not delivered within 30 s")
            print(json.dumps({"produced": len(values)}))
        else:
            raise SystemExit(f"unknown command {command}")
    except SchemaRegistryError as e:
        print(json.dumps({"status": e.http_status_code, "error_code": e.error_code, "message": e.error_message}))


if __name__ == "__main__":
    main(*sys.argv[1:])
