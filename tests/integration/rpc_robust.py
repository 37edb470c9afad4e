"""Robustness: 1,000 malformed gRPC requests against a live server - random
bytes as the message, truncated messages, wrong wire types, huge repeated
fields, deeply nested filters, garbage in client streams - plus raw HTTP/2
connections with truncated frames and non-HTTP/2 garbage. Every answer must
be a client-error status (never INTERNAL/UNKNOWN), the server must stay
healthy, and it must exit 0 on SIGTERM (under ASan that includes no leaks)."""
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import ok, done, gen_stubs, Server, code_of  # noqa: E402

gen_stubs()
import grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb, omnidex_pb2_grpc as pbg  # noqa: E402
from odx_health import health_pb2, health_pb2_grpc  # noqa: E402

SC = grpc.StatusCode
METHODS = ["CreateCollection", "DropCollection", "ListCollections", "DescribeCollection", "Upsert",
           "Delete", "Get", "Search", "Embed", "ListModels", "Stats"]
CLIENT_ERRORS = {SC.OK, SC.INVALID_ARGUMENT, SC.NOT_FOUND, SC.ALREADY_EXISTS, SC.RESOURCE_EXHAUSTED,
                 SC.FAILED_PRECONDITION}


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wt, payload):
    key = varint((num << 3) | wt)
    if wt == 2:
        return key + varint(len(payload)) + payload
    return key + payload


_deep = {}


def deep_filter(depth):
    """A SearchRequest whose filter nests `depth` negations (built on the
    wire: protobuf's Python encoder itself refuses deep recursion)."""
    if depth not in _deep:
        inner = field(1, 2, field(1, 2, b"price") + field(2, 0, varint(5)) + field(3, 2, field(2, 0, varint(1))))
        heads, n = [], len(inner)
        for _ in range(depth):  # Filter.negate = field 5; headers built outside-in in O(depth)
            h = varint((5 << 3) | 2) + varint(n)
            heads.append(h)
            n += len(h)
        filt = b"".join(reversed(heads)) + inner
        _deep[depth] = field(1, 2, b"c") + field(2, 2, field(2, 2, field(1, 2, struct.pack("<4f", 1, 2, 3, 4)))) + \
            field(4, 2, filt)
    return _deep[depth]


def main():
    srv = Server().start()
    try:
        run(srv)
    finally:
        srv.kill()
    done()


def run(srv):
    rnd = random.Random(20261128)
    ch = grpc.insecure_channel(srv.addr, options=[("grpc.max_send_message_length", 128 << 20)])
    st = pbg.OmnidexStub(ch)
    st.CreateCollection(pb.CreateCollectionRequest(name="c", dim=4), timeout=30)
    st.Upsert(pb.UpsertRequest(collection="c", items=[pb.Item(id="a", vector=pb.Vector(values=[1, 2, 3, 4]))]),
              timeout=30)
    raw = {m: ch.unary_unary("/omnidex.v1.Omnidex/" + m) for m in METHODS}
    stream_raw = ch.stream_unary("/omnidex.v1.Omnidex/UpsertStream")

    valid = {
        "Search": pb.SearchRequest(collection="c", parts=[pb.QueryPart(vector=pb.Vector(values=[1, 2, 3, 4]))],
                                   filter=pb.Filter(expr="x = 1")).SerializeToString(),
        "Upsert": pb.UpsertRequest(collection="c", items=[pb.Item(id="b", vector=pb.Vector(values=[1, 2, 3, 4]))])
        .SerializeToString(),
        "CreateCollection": pb.CreateCollectionRequest(name="zz", dim=4, index_spec="Flat").SerializeToString(),
        "Get": pb.GetRequest(collection="c", id="a").SerializeToString(),
    }
    cases = []
    for i in range(500):  # random bytes to every method
        cases.append(("random", METHODS[i % len(METHODS)],
                      bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 300)))))
    for i in range(150):  # truncated valid messages: must be rejected as malformed
        m = list(valid)[i % len(valid)]
        b = valid[m]
        cases.append(("truncated", m, b[:rnd.randint(1, len(b) - 1)]))
    for i in range(100):  # wrong wire types for known fields
        m = list(valid)[i % len(valid)]
        num = rnd.randint(1, 7)
        wt = rnd.choice([0, 1, 5, 2])
        payload = {0: varint(rnd.getrandbits(40)), 1: os.urandom(8), 5: os.urandom(4),
                   2: os.urandom(rnd.randint(0, 20))}[wt]
        cases.append(("wire-type", m, field(num, wt, payload) + valid[m]))
    for i in range(50):  # huge repeated fields
        n = rnd.choice([100000, 1000000, 4000000])
        kind = i % 3
        if kind == 0:
            msg = field(1, 2, b"c") + field(2, 2, field(2, 2, field(1, 2, b"\0\0\x80\x3f" * n)))
            cases.append(("huge-vector", "Search", msg))
        elif kind == 1:
            cases.append(("huge-ids", "Delete", field(1, 2, b"c") + field(2, 2, b"x") * (n // 8)))
        else:
            cases.append(("huge-parts", "Search", field(1, 2, b"c") + field(2, 2, b"") * (n // 10)))
    for i in range(100):  # deep filters, some beyond every limit
        cases.append(("deep-filter", "Search", deep_filter(rnd.choice([65, 100, 1000, 20000, 200000]))))
    for i in range(100):  # garbage in client streams
        msgs = [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 60))) for _ in range(rnd.randint(1, 4))]
        cases.append(("stream", None, msgs))
    ok(len(cases) == 1000, "1000 malformed requests prepared")

    bad = []
    counts = {}
    t0 = time.time()
    for kind, m, body in cases:
        if kind == "stream":
            code, det = code_of(lambda: stream_raw(iter(body), timeout=30))
        else:
            code, det = code_of(lambda: raw[m](body, timeout=30))
        counts[(kind, code)] = counts.get((kind, code), 0) + 1
        want = CLIENT_ERRORS
        if kind == "deep-filter":
            want = {SC.INVALID_ARGUMENT}
        elif kind in ("huge-vector", "huge-parts"):
            want = {SC.INVALID_ARGUMENT, SC.RESOURCE_EXHAUSTED}
        if code not in want or (code != SC.OK and not det):
            bad.append((kind, m, code, det))
    summary = ", ".join("%s/%s:%d" % (k, c.name, n) for (k, c), n in sorted(counts.items(), key=str))
    print("# %.1f s; %s" % (time.time() - t0, summary))
    ok(not bad, "1000 malformed requests answered with the expected client-error codes and messages",
       "\n".join(map(str, bad[:10])))
    ok(counts.get(("truncated", SC.INVALID_ARGUMENT), 0) >= 100,
       "most truncated messages are rejected as malformed (the rest end on a field boundary)")
    ok(srv.alive(), "server still running after the malformed requests")

    # raw HTTP/2: truncated frames and garbage connections
    def frame(ftype, flags, sid, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload

    def lit(name, value):
        return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    hdrs = (lit(b":method", b"POST") + lit(b":scheme", b"http") + lit(b":path", b"/omnidex.v1.Omnidex/Search") +
            lit(b":authority", b"127.0.0.1") + lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers"))
    raw_cases = []
    for i in range(10):
        # a gRPC message prefix claiming 1000 bytes, 10 sent, then END_STREAM
        data = b"\x00" + struct.pack(">I", 1000) + os.urandom(10)
        raw_cases.append(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 4, 1, hdrs) +
                         frame(0, 1, 1, data))
        # a frame header announcing more bytes than are sent, then close
        raw_cases.append(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 4, 1, hdrs)[:20])
        raw_cases.append(os.urandom(rnd.randint(1, 500)))
    for payload in raw_cases:
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            s.sendall(payload)
            s.settimeout(0.5)
            try:
                s.recv(65536)
            except (socket.timeout, ConnectionError):
                pass
        finally:
            s.close()
    h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    ok(h.status == health_pb2.HealthCheckResponse.SERVING, "healthy after %d raw HTTP/2 truncated/garbage connections"
       % len(raw_cases))
    st.CreateCollection(pb.CreateCollectionRequest(name="after", dim=2, metric=pb.METRIC_L2), timeout=30)
    st.Upsert(pb.UpsertRequest(collection="after", items=[pb.Item(id="p", vector=pb.Vector(values=[1, 0])),
                                                          pb.Item(id="q", vector=pb.Vector(values=[0, 1]))]), timeout=30)
    r = st.Search(pb.SearchRequest(collection="after", parts=[pb.QueryPart(vector=pb.Vector(values=[0.1, 0.9]))]),
                  timeout=10)
    ok([h.id for h in r.hits] == ["q", "p"], "valid calls still answer correctly", r)
    ch.close()
    rc = srv.stop(timeout=30)
    ok(rc == 0, "server exits 0 on SIGTERM (clean shutdown; under ASan: no leaks)", srv.stderr())


if __name__ == "__main__":
    main()
