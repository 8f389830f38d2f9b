#!/usr/bin/env python3
"""Reads a topic with Confluent's Python client and its Avro deserializer.

Every record of TOPIC (all partitions, from the beginning) is decoded with
confluent_kafka's AvroDeserializer, which fetches writer schemas from the schema
registry at REGISTRY, and printed as one JSON line:

    {"partition": 0, "offset": 3, "key": {...} | null, "value": {...} | null}

Bytes are printed as base64, decimals as strings. Stops after COUNT records, or
with exit code 2 when TIMEOUT seconds pass first.

    avro_consume.py --bootstrap 127.0.0.1:9092 --registry http://127.0.0.1:8081 \
        --topic prefix.public.t --count 55 [--timeout 60]
"""

import argparse
import base64
import datetime
import decimal
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def plain(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot print {type(value).__name__}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    registry = SchemaRegistryClient({"url": args.registry})
    key_deserializer = AvroDeserializer(registry)
    value_deserializer = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"avro-consume-{time.time_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    metadata = consumer.list_topics(args.topic, timeout=10)
    topic = metadata.topics.get(args.topic)
    if topic is None or topic.error is not None or not topic.partitions:
        print(f"avro_consume: no topic {args.topic}", file=sys.stderr)
        return 1
    consumer.assign(
        [TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in sorted(topic.partitions)]
    )
    deadline = time.monotonic() + args.timeout
    seen = 0
    while seen < args.count:
        if time.monotonic() > deadline:
            print(f"avro_consume: {seen} of {args.count} records before the timeout", file=sys.stderr)
            return 2
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            print(f"avro_consume: {message.error()}", file=sys.stderr)
            continue
        key = message.key()
        value = message.value()
        record = {
            "partition": message.partition(),
            "offset": message.offset(),
            "key": None
            if key is None
            else key_deserializer(key, SerializationContext(args.topic, MessageField.KEY)),
            "value": None
            if value is None
            else value_deserializer(value, SerializationContext(args.topic, MessageField.VALUE)),
        }
        print(json.dumps(record, default=plain), flush=True)
        seen += 1
    consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
