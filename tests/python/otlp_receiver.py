"""A minimal OTLP/HTTP trace receiver for the test suite, strict about the encoding so that
a Wafka exporter bug fails a test instead of being smoothed over as a real collector would.

Accepts POST /v1/traces as application/json (OTLP/JSON) or application/x-protobuf, optionally
gzip-encoded. Prints `listening PORT` first, then one `span {json}` line per span received;
a refused request prints nothing on stdout and its reason on stderr.

usage: otlp_receiver.py [PORT] [--fail-first N] [--fail-status 503] [--retry-after SECONDS]
  PORT 0 (the default) picks a free port. --fail-first answers the first N export requests with
  --fail-status and a Retry-After header (and prints `rejected STATUS`), to test retries.
"""
import argparse
import base64
import gzip
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

MAX_BODY = 20 * 1024 * 1024  # the spec's recommended limit
HEX_ID_FIELDS = {"traceId", "spanId", "parentSpanId"}  # the only bytes fields OTLP/JSON hex-encodes
HEX = re.compile(r"[0-9a-fA-F]*")

args = None
lock = threading.Lock()  # one line at a time from concurrent handler threads, and the fail counter
failed = 0


def out(line):
    with lock:
        print(line, flush=True)


def no_duplicate_keys(pairs):
    # json_format.Parse refuses duplicate keys; keep that, since we json.loads the body ourselves.
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key in {keys}")
    return dict(pairs)


def otlp_to_proto3_json(obj, desc, path):
    """Rewrite OTLP/JSON into the standard proto3 JSON that json_format understands, refusing
    what OTLP/JSON forbids but json_format would accept: json_format reads bytes as base64, and
    hex IDs are valid base64, so without this a 16-byte trace ID silently parses as 24 bytes;
    it also takes enum names and snake_case keys, which OTLP/JSON rules out."""
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected an object")
    by_json_name = {f.json_name: f for f in desc.fields}
    for key, value in obj.items():
        field = by_json_name.get(key)
        if field is None:
            if key in desc.fields_by_name:
                raise ValueError(f"{path}.{key}: keys must be lowerCamelCase")
            continue  # json_format refuses unknown keys (stricter than the spec's "ignore")
        if value is None:
            continue
        items = value if field.is_repeated and isinstance(value, list) else [value]
        if field.enum_type is not None and any(type(v) is not int for v in items):
            raise ValueError(f"{path}.{key}: enum values must be integers, got {value!r}")
        if key in HEX_ID_FIELDS and field.type == field.TYPE_BYTES:
            if not isinstance(value, str) or not HEX.fullmatch(value) or len(value) % 2:
                raise ValueError(f"{path}.{key}: expected a hex string, got {value!r}")
            obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            for i, item in enumerate(items):
                index = f"[{i}]" if field.is_repeated else ""
                otlp_to_proto3_json(item, field.message_type, f"{path}.{key}{index}")
    return obj


def check_ids(trace_id, span_id, parent_span_id, where):
    # Protobuf itself accepts bytes of any length; trace.proto says these are 16/8 bytes, non-zero.
    if len(trace_id) != 16 or not any(trace_id):
        raise ValueError(f"{where}: trace id must be 16 bytes, not all zero: {trace_id.hex()!r}")
    if len(span_id) != 8 or not any(span_id):
        raise ValueError(f"{where}: span id must be 8 bytes, not all zero: {span_id.hex()!r}")
    if len(parent_span_id) not in (0, 8):
        raise ValueError(f"{where}: parent span id must be empty or 8 bytes")


def scalar(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [scalar(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: scalar(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return None if kind is None else getattr(any_value, kind)


def span_lines(request):
    lines = []
    for rs in request.resource_spans:
        resource = {kv.key: scalar(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for span in ss.spans:
                where = f"span {span.name!r}"
                check_ids(span.trace_id, span.span_id, span.parent_span_id, where)
                for link in span.links:
                    check_ids(link.trace_id, link.span_id, b"", f"{where} link")
                lines.append("span " + json.dumps({
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "name": span.name,
                    "kind": span.kind,
                    "attributes": {kv.key: scalar(kv.value) for kv in span.attributes},
                    "links": [{"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex()}
                              for l in span.links],
                    "status_code": span.status.code,
                    "status_message": span.status.message,
                    "trace_state": span.trace_state,
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "service": resource.get("service.name"),
                    "scope": ss.scope.name,
                }))
    return lines


def rpc_status(code, message):
    # The spec wants a google.rpc.Status body on 4xx/5xx; encoded by hand to need no extra package.
    def varint(n):
        buf = bytearray()
        while True:
            buf.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(buf)
    text = message.encode()
    return {
        "json": json.dumps({"code": code, "message": message}).encode(),
        "proto": b"\x08" + varint(code) + b"\x12" + varint(len(text)) + text,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the spec asks clients to use

    def reply(self, status, body, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global failed
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        is_json = content_type == "application/json"
        fmt, mime = ("json", content_type) if is_json else ("proto", "application/x-protobuf")

        def refuse(status, message, headers=()):
            print(f"otlp_receiver: {status}: {message}", file=sys.stderr, flush=True)
            # INVALID_ARGUMENT for bad data, UNAVAILABLE otherwise; clients go by the HTTP status.
            self.reply(status, rpc_status(3 if status < 500 else 14, message)[fmt], mime, headers)

        if self.headers.get("Content-Length") is None:
            self.close_connection = True  # http.server cannot read a chunked body
            return refuse(411, "Content-Length required")
        length = int(self.headers["Content-Length"])
        if length > MAX_BODY:
            self.close_connection = True
            return refuse(413, f"body of {length} bytes exceeds {MAX_BODY}")
        body = self.rfile.read(length)
        if self.path != "/v1/traces":
            return refuse(404, f"no such path {self.path}")
        if content_type not in ("application/json", "application/x-protobuf"):
            return refuse(415, f"unsupported Content-Type {content_type!r}")
        with lock:
            inject = failed < args.fail_first
            failed += inject
            if inject:
                print(f"rejected {args.fail_status}", flush=True)
        if inject:
            return self.reply(args.fail_status, rpc_status(14, "injected failure")[fmt], mime,
                              [("Retry-After", str(args.retry_after))])
        try:
            encoding = self.headers.get("Content-Encoding", "identity").lower()
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding != "identity":
                raise ValueError(f"unsupported Content-Encoding {encoding!r}")
            request = ExportTraceServiceRequest()
            if is_json:
                doc = json.loads(body, object_pairs_hook=no_duplicate_keys)
                otlp_to_proto3_json(doc, request.DESCRIPTOR, "$")
                json_format.Parse(json.dumps(doc), request)
            else:
                request.ParseFromString(body)
            lines = span_lines(request)
        except Exception as e:  # any decoding or validation failure is the client's bad data
            return refuse(400, f"{type(e).__name__}: {e}")
        with lock:
            for line in lines:
                print(line, flush=True)
        if is_json:
            self.reply(200, b"{}", mime)
        else:
            self.reply(200, ExportTraceServiceResponse().SerializeToString(), mime)

    def log_message(self, *_):
        pass  # keep stderr for refusals, which a failing test will want to show


def main():
    global args
    parser = argparse.ArgumentParser(description="OTLP/HTTP trace receiver for tests")
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=503)
    parser.add_argument("--retry-after", type=int, default=1)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    out(f"listening {server.server_address[1]}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
