// omnidex gRPC API driven by Node's @grpc/grpc-js with the .proto loaded at
// run time by @grpc/proto-loader: admin, Upsert, UpsertStream of 10k
// vectors, Get, Delete, filtered Search, health, error codes, deadline,
// cancellation mid-stream and auth.
'use strict';
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const top = process.env.OMNIDEX_TOP || path.resolve(__dirname, '..', '..');
const bin = process.env.OMNIDEX_BIN || path.join(top, 'build', 'rel', 'omnidex');
let failed = 0;
function ok(cond, name, diag) {
  if (cond) console.log(`ok - ${name}`);
  else {
    failed++;
    console.log(`not ok - ${name}`);
    if (diag !== undefined) console.log(`# ${JSON.stringify(diag)}`.slice(0, 600));
  }
}

const def = loader.loadSync(['omnidex/v1/omnidex.proto', 'grpc/health/v1/health.proto'], {
  includeDirs: [path.join(top, 'proto'), '/usr/share/grpc-proto'],
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
});
const pkg = grpc.loadPackageDefinition(def);
const S = grpc.status;

const tmpdirs = [];
process.on('exit', () => { for (const d of tmpdirs) fs.rmSync(d, { recursive: true, force: true }); });
function mkTmp(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpdirs.push(d);
  return d;
}

function startServer(extra) {
  return new Promise((resolve, reject) => {
    const data = mkTmp('odx-node-');
    const models = mkTmp('odx-node-models-'); // no spaces installed
    const p = spawn(bin, ['serve', '--data', data, '--listen', '127.0.0.1:0', ...extra],
                    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OMNIDEX_MODELS: models } });
    let buf = '';
    p.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening on [^:\s]+:(\d+)/);
      if (m) resolve({ proc: p, addr: `127.0.0.1:${m[1]}` });
    });
    p.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

function stopServer(s) {
  return new Promise((resolve) => {
    if (s.proc.exitCode !== null) return resolve(s.proc.exitCode);
    const t = setTimeout(() => { s.proc.kill('SIGKILL'); }, 20000);
    s.proc.removeAllListeners('exit');
    s.proc.on('exit', (code) => { clearTimeout(t); resolve(code); });
    s.proc.kill('SIGTERM');
  });
}

function call(client, method, req, opts = {}) {
  const md = new grpc.Metadata();
  if (opts.token) md.set('authorization', `Bearer ${opts.token}`);
  return new Promise((resolve) => {
    client[method](req, md, { deadline: Date.now() + (opts.ms || 10000) }, (err, resp) => {
      resolve(err ? { code: err.code, details: err.details } : { code: S.OK, resp });
    });
  });
}

function vecs(n, dim, seed) {
  // structured: rank-4 latent + noise, deterministic LCG
  let x = seed >>> 0;
  const rnd = () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 4294967296 - 0.5; };
  const basis = Array.from({ length: 4 }, () => Array.from({ length: dim }, rnd));
  return Array.from({ length: n }, () => {
    const z = [rnd(), rnd(), rnd(), rnd()];
    return Array.from({ length: dim }, (_, d) => z.reduce((s, zr, r) => s + zr * basis[r][d], 0) + 0.05 * rnd());
  });
}
const l2 = (a, b) => a.reduce((s, v, i) => s + (v - b[i]) * (v - b[i]), 0);

async function main() {
  const srv = await startServer([]);
  const cl = new pkg.omnidex.v1.Omnidex(srv.addr, grpc.credentials.createInsecure());
  const health = new pkg.grpc.health.v1.Health(srv.addr, grpc.credentials.createInsecure());
  try {
    let r = await call(health, 'Check', { service: '' });
    ok(r.code === S.OK && r.resp.status === 'SERVING', 'node: health SERVING', r);

    r = await call(cl, 'CreateCollection', { name: 'n1', dim: 8, metric: 'METRIC_L2' });
    ok(r.code === S.OK && r.resp.collection.dim === 8, 'node: CreateCollection', r);
    r = await call(cl, 'CreateCollection', { name: 'n1', dim: 8 });
    ok(r.code === S.ALREADY_EXISTS, 'node: CreateCollection twice -> ALREADY_EXISTS', r);
    r = await call(cl, 'ListCollections', {});
    ok(r.code === S.OK && r.resp.names.includes('n1'), 'node: ListCollections', r);

    const V = vecs(10000, 8, 42);
    const items = (lo, hi) => V.slice(lo, hi).map((v, j) => ({
      id: `k${lo + j}`, vector: { values: v },
      metadata: { shard: { int_value: (lo + j) % 10 }, tag: { string_value: (lo + j) % 2 ? 'odd' : 'even' } },
    }));
    // Upsert the first 100, then UpsertStream all 10,000 (the first 100 are replaced)
    r = await call(cl, 'Upsert', { collection: 'n1', items: items(0, 100) });
    ok(r.code === S.OK && Number(r.resp.upserted) === 100, 'node: Upsert 100', r);
    r = await new Promise((resolve) => {
      const st = cl.UpsertStream(new grpc.Metadata(), { deadline: Date.now() + 120000 }, (err, resp) =>
        resolve(err ? { code: err.code, details: err.details } : { code: S.OK, resp }));
      for (let b = 0; b < 100; b++) st.write({ collection: b === 0 ? 'n1' : '', items: items(b * 100, b * 100 + 100) });
      st.end();
    });
    ok(r.code === S.OK && Number(r.resp.upserted) === 10000 && Number(r.resp.messages) === 100,
       'node: UpsertStream of 10,000 vectors in 100 messages', r);
    r = await call(cl, 'DescribeCollection', { name: 'n1' });
    ok(r.code === S.OK && Number(r.resp.collection.count) === 10000, 'node: 10,000 items counted (upsert replaced)', r);

    r = await call(cl, 'Get', { collection: 'n1', id: 'k77' });
    ok(r.code === S.OK && r.resp.item.vector.values.every((x, i) => Math.abs(x - V[77][i]) < 1e-5) &&
       r.resp.item.metadata.tag.string_value === 'odd', 'node: Get vector and metadata', r);

    const q = V[4321];
    const filter = { all_of: { filters: [
      { compare: { field: 'tag', op: 'OP_EQ', value: { string_value: 'even' } } },
      { in_set: { field: 'shard', values: [{ int_value: 2 }, { int_value: 4 }] } }] } };
    r = await call(cl, 'Search', { collection: 'n1', parts: [{ vector: { values: q } }], k: 10, filter });
    const ref = V.map((v, i) => [l2(q, v), `k${i}`]).filter(([, id]) => {
      const i = Number(id.slice(1)); return i % 2 === 0 && (i % 10 === 2 || i % 10 === 4);
    }).sort((a, b) => a[0] - b[0]).slice(0, 10).map((x) => x[1]);
    ok(r.code === S.OK && JSON.stringify(r.resp.hits.map((h) => h.id)) === JSON.stringify(ref),
       'node: filtered Search equals brute force', { got: r.resp && r.resp.hits.map((h) => h.id), ref });

    r = await call(cl, 'Delete', { collection: 'n1', ids: ['k1', 'k2', 'nope'] });
    ok(r.code === S.OK && Number(r.resp.deleted) === 2, 'node: Delete', r);
    r = await call(cl, 'Get', { collection: 'n1', id: 'k1' });
    ok(r.code === S.NOT_FOUND, 'node: Get deleted -> NOT_FOUND', r);

    const errs = [
      ['Search', { collection: 'n1', parts: [{ vector: { values: [1, 2] } }] }, S.INVALID_ARGUMENT, 'wrong dim'],
      ['Search', { collection: 'zz', parts: [{ vector: { values: q } }] }, S.NOT_FOUND, 'unknown collection'],
      ['Search', { collection: 'n1', parts: [{ text: 'boots' }] }, S.FAILED_PRECONDITION, 'text query'],
      ['Search', { collection: 'n1', parts: Array(17).fill({ vector: { values: q } }) }, S.RESOURCE_EXHAUSTED, '17 parts'],
      ['Search', { collection: 'n1', parts: [{ vector: { values: q } }], filter: { expr: 'shard <' } }, S.INVALID_ARGUMENT, 'bad filter'],
      ['Upsert', { collection: 'n1', items: [{ id: 'x', vector: { values: [1] } }] }, S.INVALID_ARGUMENT, 'upsert wrong dim'],
      ['Embed', { space: 'omni-tiny', text: 'x' }, S.FAILED_PRECONDITION, 'embed'],
      ['CreateCollection', { name: 'bad name!', dim: 4 }, S.INVALID_ARGUMENT, 'bad collection name'],
    ];
    for (const [m, req, want, name] of errs) {
      r = await call(cl, m, req);
      ok(r.code === want && r.details, `node: ${name} -> ${want}`, r);
    }

    // deadline exceeded mid-stream
    r = await new Promise((resolve) => {
      const st = cl.UpsertStream(new grpc.Metadata(), { deadline: Date.now() + 300 }, (err, resp) =>
        resolve(err ? { code: err.code } : { code: S.OK, resp }));
      st.write({ collection: 'n1', items: items(0, 1) });
      setTimeout(() => { try { st.end(); } catch (e) { /* already over */ } }, 1200);
    });
    ok(r.code === S.DEADLINE_EXCEEDED, 'node: stream past its deadline -> DEADLINE_EXCEEDED', r);

    // cancellation mid-stream: nothing of it is committed
    r = await new Promise((resolve) => {
      const st = cl.UpsertStream(new grpc.Metadata(), { deadline: Date.now() + 30000 }, (err, resp) =>
        resolve(err ? { code: err.code } : { code: S.OK, resp }));
      st.write({ collection: 'n1', items: [{ id: 'cancelled-1', vector: { values: q } }] });
      setTimeout(() => st.cancel(), 500);
    });
    ok(r.code === S.CANCELLED, 'node: cancelled stream -> CANCELLED', r);
    await new Promise((res) => setTimeout(res, 300));
    r = await call(cl, 'Get', { collection: 'n1', id: 'cancelled-1' });
    ok(r.code === S.NOT_FOUND, 'node: cancelled stream committed nothing', r);

    // health Watch: first message
    r = await new Promise((resolve) => {
      const w = health.Watch({ service: 'omnidex.v1.Omnidex' });
      w.on('data', (m) => { resolve(m.status); w.cancel(); });
      w.on('error', () => {});
    });
    ok(r === 'SERVING', 'node: health Watch streams SERVING', r);
  } finally {
    cl.close();
    health.close();
    const code = await stopServer(srv);
    ok(code === 0, 'node: server exits 0 on SIGTERM', code);
  }

  // auth
  const tokdir = mkTmp('odx-tok-');
  fs.writeFileSync(path.join(tokdir, 't'), 'node-token\n');
  const asrv = await startServer(['--token-file', path.join(tokdir, 't')]);
  const ac = new pkg.omnidex.v1.Omnidex(asrv.addr, grpc.credentials.createInsecure());
  let r = await call(ac, 'ListCollections', {});
  ok(r.code === S.UNAUTHENTICATED, 'node: auth missing -> UNAUTHENTICATED', r);
  r = await call(ac, 'ListCollections', {}, { token: 'nope' });
  ok(r.code === S.UNAUTHENTICATED, 'node: auth wrong -> UNAUTHENTICATED', r);
  r = await call(ac, 'ListCollections', {}, { token: 'node-token' });
  ok(r.code === S.OK, 'node: auth right -> OK', r);
  ac.close();
  ok(await stopServer(asrv) === 0, 'node: auth server exits 0');

  // TLS and mutual TLS (certificates made by openssl in rpc_node.sh)
  const tdir = process.env.ODX_TLS_DIR;
  const rd = (f) => fs.readFileSync(path.join(tdir, f));
  const tsrv = await startServer(['--tls-cert', path.join(tdir, 'srv.pem'), '--tls-key', path.join(tdir, 'srv.key'),
                                  '--tls-client-ca', path.join(tdir, 'ca.pem')]);
  const mt = new pkg.omnidex.v1.Omnidex(tsrv.addr, grpc.credentials.createSsl(rd('ca.pem'), rd('cli.key'), rd('cli.pem')));
  r = await call(mt, 'ListCollections', {});
  ok(r.code === S.OK, 'node: mutual TLS with a CA-signed client certificate -> OK', r);
  mt.close();
  const nocert = new pkg.omnidex.v1.Omnidex(tsrv.addr, grpc.credentials.createSsl(rd('ca.pem')));
  r = await call(nocert, 'ListCollections', {}, { ms: 3000 });
  ok(r.code === S.UNAVAILABLE, 'node: mutual TLS without a client certificate is refused', r);
  nocert.close();
  const plain = new pkg.omnidex.v1.Omnidex(tsrv.addr, grpc.credentials.createInsecure());
  r = await call(plain, 'ListCollections', {}, { ms: 3000 });
  ok(r.code === S.UNAVAILABLE, 'node: plaintext client cannot talk to the TLS server', r);
  plain.close();
  ok(await stopServer(tsrv) === 0, 'node: TLS server exits 0');
}

main().then(() => process.exit(failed ? 1 : 0), (e) => {
  console.log(`not ok - node test crashed: ${e.stack}`);
  process.exit(1);
});
