"""TLS: a CA, a server certificate (SAN 127.0.0.1) and a client certificate
made by openssl in the test. Plain TLS: a client trusting the CA connects, a
plaintext client and one trusting another CA do not. Mutual TLS
(--tls-client-ca): a client without a certificate is refused, one with a
CA-signed certificate is served. TLS plus bearer token."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rpc_common import ok, done, gen_stubs, Server, code_of, tmpdir  # noqa: E402

gen_stubs()
import grpc  # noqa: E402
from omnidex.v1 import omnidex_pb2 as pb, omnidex_pb2_grpc as pbg  # noqa: E402

SC = grpc.StatusCode
D = tmpdir("odx-tls-")


def sh(*args):
    subprocess.run(args, check=True, cwd=D, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_ca(name):
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".pem",
       "-days", "2", "-subj", "/CN=" + name)


def make_cert(name, ca, san):
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
       "-subj", "/CN=" + name)
    with open(os.path.join(D, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
       "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")


def rd(name):
    with open(os.path.join(D, name), "rb") as f:
        return f.read()


def p(name):
    return os.path.join(D, name)


def list_with(addr, creds, md=None):
    ch = grpc.secure_channel(addr, creds) if creds else grpc.insecure_channel(addr)
    try:
        return code_of(lambda: pbg.OmnidexStub(ch).ListCollections(pb.ListCollectionsRequest(), timeout=5,
                                                                    metadata=md))
    finally:
        ch.close()


def main():
    make_ca("ca")
    make_ca("other")
    make_cert("server", "ca", "IP:127.0.0.1,DNS:localhost")
    make_cert("client", "ca", "DNS:client")
    ok(os.path.exists(p("server.pem")) and os.path.exists(p("client.pem")), "openssl made a CA, server and client certs")

    with Server("--tls-cert", p("server.pem"), "--tls-key", p("server.key")) as s:
        code, det = list_with(s.addr, grpc.ssl_channel_credentials(root_certificates=rd("ca.pem")))
        ok(code == SC.OK, "TLS: client trusting the CA is served", (code, det))
        code, det = list_with(s.addr, None)
        ok(code == SC.UNAVAILABLE, "TLS: plaintext client cannot talk to a TLS server", (code, det))
        code, det = list_with(s.addr, grpc.ssl_channel_credentials(root_certificates=rd("other.pem")))
        ok(code == SC.UNAVAILABLE, "TLS: client trusting another CA refuses the server", (code, det))
        ok(s.stop() == 0, "TLS server exits 0 on SIGTERM")

    with Server("--tls-cert", p("server.pem"), "--tls-key", p("server.key"), "--tls-client-ca", p("ca.pem")) as s:
        code, det = list_with(s.addr, grpc.ssl_channel_credentials(root_certificates=rd("ca.pem")))
        ok(code == SC.UNAVAILABLE, "mTLS: client without a certificate is refused", (code, det))
        code, det = list_with(s.addr, grpc.ssl_channel_credentials(
            root_certificates=rd("ca.pem"), private_key=rd("client.key"), certificate_chain=rd("client.pem")))
        ok(code == SC.OK, "mTLS: client with a CA-signed certificate is served", (code, det))
        ok(s.stop() == 0, "mTLS server exits 0 on SIGTERM")

    with open(p("token"), "w") as f:
        f.write("tls-token\n")
    with Server("--tls-cert", p("server.pem"), "--tls-key", p("server.key"), "--token-file", p("token")) as s:
        creds = grpc.ssl_channel_credentials(root_certificates=rd("ca.pem"))
        code, _ = list_with(s.addr, creds)
        ok(code == SC.UNAUTHENTICATED, "TLS + token: no token -> UNAUTHENTICATED")
        code, det = list_with(s.addr, creds, [("authorization", "Bearer tls-token")])
        ok(code == SC.OK, "TLS + token: right token -> OK", (code, det))
        s.stop()

    bad = Server("--tls-cert", p("server.pem"))
    try:
        bad.start()
        ok(False, "--tls-cert without --tls-key is refused")
    except RuntimeError as e:
        ok("--tls-key" in str(e) and bad.proc.returncode not in (0, None),
           "--tls-cert without --tls-key is refused with a message", e)
    done()


if __name__ == "__main__":
    main()
