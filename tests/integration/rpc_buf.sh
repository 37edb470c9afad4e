#!/usr/bin/env bash
# omnidex over `buf curl` (npm @bufbuild/buf), a grpcurl-style tool that
# learns the API from the server's reflection service alone (v1 and
# v1alpha), with no .proto in hand: list, admin, Upsert, Search with a
# filter, Get, Delete, error codes, health and bearer-token auth.
set -u
top=${OMNIDEX_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${OMNIDEX_BIN:-$top/build/rel/omnidex}
fails=0
ok() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fails=$((fails+1)); [ -n "${3:-}" ] && echo "$3" | head -20 | sed 's/^/# /'; fi; }
if ! "$top/tests/node/install.sh" >/dev/null 2>&1; then echo "not ok - npm install of @bufbuild/buf failed"; exit 1; fi
BUF="$top/tests/node/node_modules/.bin/buf"
tmp=$(mktemp -d /tmp/odx-buf-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT

start() { # start NAME ARGS... -> sets port_NAME
  local name=$1; shift
  mkdir -p "$tmp/models"   # no spaces installed
  OMNIDEX_MODELS="$tmp/models" "$bin" serve --data "$tmp/$name" --listen 127.0.0.1:0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!); eval "pid_$name=$!"
  for _ in $(seq 100); do grep -q "listening on" "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
  eval "port_$name=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$tmp/$name.out")"
}
bc() { # bc PORT METHOD JSON [extra buf args]: prints output, returns buf's status
  local port=$1 m=$2 d=$3; shift 3
  timeout 30 "$BUF" curl --protocol grpc --http2-prior-knowledge "$@" -d "$d" "http://127.0.0.1:$port/$m" 2>&1
}
code_of() { sed -n 's/.*"code": *"\([a-z_]*\)".*/\1/p' | head -1; }

start main
P=$port_main
for proto in grpc-v1 grpc-v1alpha; do
  out=$(timeout 30 "$BUF" curl --protocol grpc --http2-prior-knowledge --reflect-protocol $proto --list-methods "http://127.0.0.1:$P" 2>&1)
  n=$(echo "$out" | grep -c '^omnidex.v1.Omnidex/')
  ok $([ "$n" = 13 ] && echo "$out" | grep -q '^grpc.health.v1.Health/Watch$'; echo $?) "buf: reflection $proto lists the 13 Omnidex methods and health" "$out"
done
out=$(bc $P omnidex.v1.Omnidex/CreateCollection '{"name":"b1","dim":3,"metric":"METRIC_L2","index_spec":"Flat"}' --reflect-protocol grpc-v1alpha)
ok $(echo "$out" | grep -q '"dim": 3'; echo $?) "buf: CreateCollection via v1alpha reflection" "$out"
out=$(bc $P omnidex.v1.Omnidex/Upsert '{"collection":"b1","items":[
  {"id":"x","vector":{"values":[1,0,0]},"metadata":{"color":{"stringValue":"red"},"n":{"intValue":"1"}}},
  {"id":"y","vector":{"values":[0,1,0]},"metadata":{"color":{"stringValue":"blue"},"n":{"intValue":"2"}}},
  {"id":"z","vector":{"values":[0.9,0.1,0]},"metadata":{"color":{"stringValue":"blue"},"n":{"intValue":"3"}}}]}')
ok $(echo "$out" | grep -q '"upserted": "3"'; echo $?) "buf: Upsert 3 items" "$out"
out=$(bc $P omnidex.v1.Omnidex/Search '{"collection":"b1","parts":[{"vector":{"values":[1,0,0]}}],"k":2,
  "filter":{"compare":{"field":"color","op":"OP_EQ","value":{"stringValue":"blue"}}},"withMetadata":true}')
ids=$(echo "$out" | sed -n 's/.*"id": "\([a-z]*\)".*/\1/p' | tr '\n' ' ')
ok $([ "$ids" = "z y " ]; echo $?) "buf: filtered Search returns z then y (blue only, by distance)" "$out"
out=$(bc $P omnidex.v1.Omnidex/Get '{"collection":"b1","id":"y"}')
ok $(echo "$out" | grep -q '"blue"'; echo $?) "buf: Get" "$out"
out=$(bc $P omnidex.v1.Omnidex/Delete '{"collection":"b1","ids":["y","q"]}')
ok $(echo "$out" | grep -q '"deleted": "1"'; echo $?) "buf: Delete" "$out"
out=$(bc $P omnidex.v1.Omnidex/Get '{"collection":"b1","id":"y"}')
ok $([ "$(echo "$out" | code_of)" = not_found ]; echo $?) "buf: Get deleted -> not_found" "$out"
out=$(bc $P omnidex.v1.Omnidex/Search '{"collection":"b1","parts":[{"vector":{"values":[1,0]}}]}')
ok $([ "$(echo "$out" | code_of)" = invalid_argument ] && echo "$out" | grep -q '"message"'; echo $?) "buf: wrong dimension -> invalid_argument with a message" "$out"
out=$(bc $P omnidex.v1.Omnidex/CreateCollection '{"name":"b1","dim":3}')
ok $([ "$(echo "$out" | code_of)" = already_exists ]; echo $?) "buf: duplicate collection -> already_exists" "$out"
out=$(bc $P omnidex.v1.Omnidex/Embed '{"space":"omni-tiny","text":"hi"}')
ok $([ "$(echo "$out" | code_of)" = failed_precondition ]; echo $?) "buf: Embed -> failed_precondition" "$out"
out=$(bc $P grpc.health.v1.Health/Check '{"service":"omnidex.v1.Omnidex"}')
ok $(echo "$out" | grep -q SERVING; echo $?) "buf: health Check" "$out"
out=$(bc $P omnidex.v1.Omnidex/Stats '{}')
ok $(echo "$out" | grep -q '"version"'; echo $?) "buf: Stats" "$out"

# UpsertStream of 10k vectors: 100 JSON messages on stdin
/usr/bin/python3 - > "$tmp/stream.json" <<'PY'
import json, random
r = random.Random(5)
for b in range(100):
    msg = {"items": [{"id": "s%d" % (b * 100 + j), "vector": {"values": [r.uniform(-1, 1) for _ in range(3)]}}
                     for j in range(100)]}
    if b == 0:
        msg["collection"] = "b1"
    print(json.dumps(msg))
PY
out=$(timeout 60 "$BUF" curl --protocol grpc --http2-prior-knowledge -d @- "http://127.0.0.1:$P/omnidex.v1.Omnidex/UpsertStream" < "$tmp/stream.json" 2>&1)
ok $(echo "$out" | grep -q '"upserted": "10000"' && echo "$out" | grep -q '"messages": "100"'; echo $?) "buf: UpsertStream of 10k vectors in 100 messages" "$out"
out=$(bc $P omnidex.v1.Omnidex/DescribeCollection '{"name":"b1"}')
ok $(echo "$out" | grep -q '"count": "10002"'; echo $?) "buf: 10,002 items after the stream" "$out"

# deadline exceeded mid-stream: a 300 ms deadline, the second message 1.5 s late
out=$( { echo '{"collection":"b1","items":[{"id":"late","vector":{"values":[1,1,1]}}]}'; sleep 1.5;
         echo '{"items":[]}'; } | timeout 30 "$BUF" curl --protocol grpc --http2-prior-knowledge \
         --timeout 300ms -d @- "http://127.0.0.1:$P/omnidex.v1.Omnidex/UpsertStream" 2>&1)
ok $([ "$(echo "$out" | code_of)" = deadline_exceeded ]; echo $?) "buf: stream past its deadline -> deadline_exceeded" "$out"
# cancellation mid-stream: the client is killed while its stream is open
# (the native binary: node_modules/.bin/buf is a Node shim that spawns it)
BUFBIN=$(ls "$top"/tests/node/node_modules/@bufbuild/buf-*/bin/buf 2>/dev/null | head -1)
mkfifo "$tmp/fifo"
"${BUFBIN:-$BUF}" curl --protocol grpc --http2-prior-knowledge -d @- "http://127.0.0.1:$P/omnidex.v1.Omnidex/UpsertStream" \
  < "$tmp/fifo" > "$tmp/cancel.out" 2>&1 &
bufpid=$!
exec 7>"$tmp/fifo"
echo '{"collection":"b1","items":[{"id":"gone","vector":{"values":[2,2,2]}}]}' >&7
sleep 1.5
kill -9 $bufpid 2>/dev/null; wait $bufpid 2>/dev/null
exec 7>&-
sleep 0.5
out=$(bc $P omnidex.v1.Omnidex/Get '{"collection":"b1","id":"gone"}')
ok $([ "$(echo "$out" | code_of)" = not_found ]; echo $?) "buf: a stream whose client died committed nothing" "$out"
out=$(bc $P omnidex.v1.Omnidex/Get '{"collection":"b1","id":"late"}')
ok $([ "$(echo "$out" | code_of)" = not_found ]; echo $?) "buf: the expired stream committed nothing" "$out"

echo "buf-token" > "$tmp/token"
start auth --token-file "$tmp/token"
A=$port_auth
RH=(--reflect-header "Authorization: Bearer buf-token")
out=$(bc $A omnidex.v1.Omnidex/ListCollections '{}')
ok $(echo "$out" | grep -qi 'failure\|unauthenticated'; echo $?) "buf: reflection without the token is refused" "$out"
out=$(bc $A omnidex.v1.Omnidex/ListCollections '{}' "${RH[@]}")
ok $([ "$(echo "$out" | code_of)" = unauthenticated ]; echo $?) "buf: no token -> unauthenticated" "$out"
out=$(bc $A omnidex.v1.Omnidex/ListCollections '{}' -H "Authorization: Bearer nope" "${RH[@]}")
ok $([ "$(echo "$out" | code_of)" = unauthenticated ]; echo $?) "buf: wrong token -> unauthenticated" "$out"
out=$(bc $A omnidex.v1.Omnidex/ListCollections '{}' -H "Authorization: Bearer buf-token" --reflect-header '*')
ok $(echo "$out" | grep -q '^{'; [ -z "$(echo "$out" | code_of)" ]; echo $?) "buf: right token -> OK" "$out"
out=$(bc $A grpc.health.v1.Health/Check '{}' "${RH[@]}")
ok $(echo "$out" | grep -q SERVING; echo $?) "buf: health without a token" "$out"

# TLS and mutual TLS with certificates made here
( cd "$tmp" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=odx-ca &&
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=srv &&
  printf 'subjectAltName=IP:127.0.0.1\n' > srv.ext &&
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext &&
  openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj /CN=cli &&
  openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem -days 2 ) >/dev/null 2>&1
start tls --tls-cert "$tmp/srv.pem" --tls-key "$tmp/srv.key"
out=$(timeout 30 "$BUF" curl --protocol grpc --cacert "$tmp/ca.pem" -d '{}' "https://127.0.0.1:$port_tls/omnidex.v1.Omnidex/ListCollections" 2>&1)
ok $(echo "$out" | grep -q '^{'; [ -z "$(echo "$out" | code_of)" ]; echo $?) "buf: TLS with the CA -> OK" "$out"
out=$(timeout 30 "$BUF" curl --protocol grpc --list-services "https://127.0.0.1:$port_tls" 2>&1)
ok $(echo "$out" | grep -qi 'unavailable'; echo $?) "buf: a client without the CA cannot reach the TLS server" "$out"
out=$(timeout 30 "$BUF" curl --protocol grpc --cacert "$tmp/ca.pem" --list-services "https://127.0.0.1:$port_tls" 2>&1)
ok $(echo "$out" | grep -q '^omnidex.v1.Omnidex$'; echo $?) "buf: reflection over TLS" "$out"
start mtls --tls-cert "$tmp/srv.pem" --tls-key "$tmp/srv.key" --tls-client-ca "$tmp/ca.pem"
out=$(timeout 30 "$BUF" curl --protocol grpc --cacert "$tmp/ca.pem" -d '{}' "https://127.0.0.1:$port_mtls/omnidex.v1.Omnidex/ListCollections" 2>&1)
ok $(echo "$out" | grep -q '^{' ; [ $? != 0 ]; echo $?) "buf: mTLS without a client certificate is refused" "$out"
out=$(timeout 30 "$BUF" curl --protocol grpc --cacert "$tmp/ca.pem" -E "$tmp/cli.pem" --key "$tmp/cli.key" -d '{}' "https://127.0.0.1:$port_mtls/omnidex.v1.Omnidex/ListCollections" 2>&1)
ok $(echo "$out" | grep -q '^{'; [ -z "$(echo "$out" | code_of)" ]; echo $?) "buf: mTLS with a client certificate -> OK" "$out"

for s in main auth tls mtls; do
  eval "p=\$pid_$s"
  kill -TERM "$p"; wait "$p"; rc=$?
  ok $rc "buf: $s server exits 0 on SIGTERM" "$(tail -5 "$tmp/$s.err")"
done
pids=()
[ "$fails" = 0 ]
