// Automatic certificates end to end against Pebble, the ACME test server
// (Debian's `pebble`, with its `pebble-challtestsrv` answering every DNS
// name with 127.0.0.1): hostmux serve --workers 2 orders, answers the real
// HTTP-01 challenge on its plain port (no PEBBLE_VA_ALWAYS_VALID), serves
// the certificate, renews it (Pebble issues 30-second certificates here),
// and backs off, logged, when the CA refuses.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { backoff, renewalDue } from '../src/tls/acme-orderer.ts';
import { request, tempDir, writeTree } from './helpers.ts';
import { serve } from './serve-helpers.ts';

/** Free ports, held until all are chosen so that none is given twice. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function started(t: TestContext, command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${output}`)), 30_000);
    const seen = (chunk: Buffer) => {
      output += chunk;
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}):\n${output}`)));
  });
}

interface Pebble {
  readonly directory: string;
  readonly caFile: string;
}

/** Pebble and its mock DNS, its validation pointed at `httpPort` (where hostmux's plain listener will be). */
async function pebble(t: TestContext, dir: string, httpPort: number): Promise<Pebble> {
  const [acmePort, managementPort, tlsPort, dnsPort, dnsManagement] = await freePorts(5);
  // Pebble's own HTTPS certificate, for 127.0.0.1: hostmux trusts it through [acme] ca_cert.
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
  });
  writeFileSync(join(dir, 'pebble.crt'), pems.cert);
  writeFileSync(join(dir, 'pebble.key'), pems.private);
  writeFileSync(join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: join(dir, 'pebble.crt'),
      privateKey: join(dir, 'pebble.key'),
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      domainBlocklist: ['refused.test'],
      certificateValidityPeriod: 30,
    },
  }));
  await started(t, 'pebble-challtestsrv', [
    '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagement}`,
  ], /Answering A questions|Starting management server|DNS/);
  await started(t, 'pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], /ACME directory available/, {
    // No random sleeps before validation, no random bad nonces: the test is about hostmux.
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
  });
  return { directory: `https://127.0.0.1:${acmePort}/dir`, caFile: join(dir, 'pebble.crt') };
}

/** The certificate a TLS client gets for `servername`. */
function peerCertificate(port: number, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.end();
      if (raw === undefined) reject(new Error('no certificate'));
      else resolve(raw);
    });
    socket.on('error', reject);
  });
}

const APP = 'export default (req, res) => res.end(`hello over ${req.socket.encrypted ? "https" : "http"}`);\n';

test('ACME: serve orders a site\'s certificate from Pebble over a real HTTP-01 challenge, serves it, and renews it', { timeout: 180_000 }, async (t) => {
  const dir = tempDir('hostmux-acme-');
  t.after(dir.remove);
  const [httpPort, httpsPort] = await freePorts(2);
  const ca = await pebble(t, dir.path, httpPort!);
  writeTree(dir.path, {
    'tree/hostmux.conf': `[server]\nhttps = 127.0.0.1:${httpsPort}\n[acme]\ndirectory = ${ca.directory}\nca_cert = ${ca.caFile}\nemail = ops@example.test\nstorage = ${join(dir.path, 'acme')}\n`,
    'tree/app.mjs': APP,
    'tree/sites-enabled/shop.ini': '[site]\ndomains = shop.test, www.shop.test\nhandler = ../app.mjs\ntls = auto\n',
  });
  const server = await serve(t, ['-c', join(dir.path, 'tree'), '--workers', '2', '--port', String(httpPort)]);
  // Before its certificate: plain HTTP serves the site.
  assert.equal((await request(server.port, { host: 'shop.test' })).body, 'hello over http');
  await server.waitFor(/site shop: ACME issued its certificate for shop\.test, www\.shop\.test, valid until/);
  await server.waitFor(/configuration reloaded/);

  const first = await peerCertificate(httpsPort!, 'www.shop.test');
  assert.match(first.issuer, /Pebble/);
  assert.ok(first.checkHost('shop.test') !== undefined && first.checkHost('www.shop.test') !== undefined);
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: httpsPort!, servername: 'shop.test', rejectUnauthorized: false }, () => {
      socket.write('GET / HTTP/1.1\r\nhost: shop.test\r\nconnection: close\r\n\r\n');
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(reply, /hello over https$/);
  // Keys are the process's own.
  const storage = join(dir.path, 'acme');
  assert.equal(statSync(join(storage, 'account.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(storage, 'certificates', 'shop.key')).mode & 0o777, 0o600);

  // Pebble's certificates last 30 s: a third of that left, it is renewed, and the new one is served.
  const mark = server.log().length;
  await server.waitFor(/site shop: ACME issued its certificate/, mark);
  await server.waitFor(/configuration reloaded/, mark);
  const renewed = await peerCertificate(httpsPort!, 'shop.test');
  assert.notEqual(renewed.serialNumber, first.serialNumber);
  assert.ok(Date.parse(renewed.validTo) > Date.parse(first.validTo));
});

test('ACME: a CA that refuses is logged with the backoff, and the site is served over plain HTTP meanwhile', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('hostmux-acme-refused-');
  t.after(dir.remove);
  const [httpPort, httpsPort] = await freePorts(2);
  const ca = await pebble(t, dir.path, httpPort!);
  writeTree(dir.path, {
    'tree/hostmux.conf': `[server]\nhttps = 127.0.0.1:${httpsPort}\nredirect_http = true\n[acme]\ndirectory = ${ca.directory}\nca_cert = ${ca.caFile}\nstorage = ${join(dir.path, 'acme')}\n`,
    'tree/app.mjs': APP,
    'tree/sites-enabled/refused.ini': '[site]\ndomains = refused.test\nhandler = ../app.mjs\ntls = auto\n',
  });
  const server = await serve(t, ['-c', join(dir.path, 'tree'), '--in-process', '--port', String(httpPort)]);
  await server.waitFor(/site refused: ACME could not issue its certificate \(attempt 1\): .*; retrying in 60 s; it answers over plain HTTP meanwhile/);
  // No certificate, no redirect: the site answers over plain HTTP.
  const plain = await request(server.port, { host: 'refused.test' });
  assert.deepEqual([plain.status, plain.body], [200, 'hello over http']);
});

test('ACME: the backoff doubles from a minute up to a day; renewal is due with a third of the lifetime left', () => {
  assert.deepEqual([1, 2, 3, 4].map(backoff), [60_000, 120_000, 240_000, 480_000]);
  assert.equal(backoff(40), 24 * 3_600_000);
  assert.equal(renewalDue(0, 90 * 86_400_000), 60 * 86_400_000);
});
