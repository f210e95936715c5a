// `serve --https`: real TLS clients (node:https, node:http2, ws, curl) reach
// three sites with three certificates by SNI (an exact name, a wildcard, and
// the default certificate), a client without SNI gets the default; HTTP/2
// and a WebSocket over TLS; redirect_http; and a renewed certificate picked
// up on reload while a long download on the old connection completes.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { rawRequest, request, tempDir, writeTree } from './helpers.ts';
import { serve, type Serving } from './serve-helpers.ts';
import { makeCertificate, type MadeCertificate } from './tls-helpers.ts';

/** Answers its site's name; `/slow?ms=` streams for that long; upgrades echo over WebSocket. */
const APP = `
import { WebSocketServer } from ${JSON.stringify(import.meta.resolve('ws'))};
export function createHandler(site) {
  const wss = new WebSocketServer({ noServer: true });
  const handler = (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started\\n');
      setTimeout(() => res.end('finished\\n'), Number(url.searchParams.get('ms')));
      return;
    }
    res.end(site.name + ' ' + req.httpVersion);
  };
  handler.upgrade = (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(site.name + ': ' + data)));
  handler.close = () => { for (const ws of wss.clients) ws.terminate(); wss.close(); };
  return handler;
}
`;

interface Tree {
  readonly dir: string;
  readonly ca: string[];
  readonly exact: MadeCertificate;
}

async function tlsTree(t: TestContext, serverConf = ''): Promise<Tree> {
  const made = tempDir('hostmux-tls-serve-');
  t.after(made.remove);
  const dir = made.path;
  const exact = await makeCertificate(dir, 'exact', ['exact.test']);
  const wild = await makeCertificate(dir, 'wild', ['*.wild.test']);
  const fallback = await makeCertificate(dir, 'default', ['default.test', 'plain.test']);
  const site = (name: string, domains: string, pair?: string) =>
    `[site]\ndomains = ${domains}\nhandler = ../app.mjs\n${pair === undefined ? '' : `tls_cert = ../${pair}.crt\ntls_key = ../${pair}.key\n`}`;
  writeTree(dir, {
    'app.mjs': APP,
    'hostmux.conf': `[server]\ntls_cert = default.crt\ntls_key = default.key\n${serverConf}`,
    'sites-enabled/exact.ini': site('exact', 'exact.test', 'exact'),
    'sites-enabled/wild.ini': site('wild', '*.wild.test', 'wild'),
    'sites-enabled/plain.ini': site('plain', 'plain.test'),
    'sites-enabled/bare.ini': site('bare', 'bare.test'),
  });
  return { dir, ca: [exact.certPem, wild.certPem, fallback.certPem], exact };
}

/** The https port `serve` logged. */
async function httpsPort(served: Serving): Promise<number> {
  return Number((await served.waitFor(/listening on https:\/\/127\.0\.0\.1:(\d+)/))[1]);
}

interface TlsReply {
  readonly status: number;
  readonly body: string;
  /** The CN of the certificate the server presented. */
  readonly cn: string;
  readonly fingerprint: string;
}

/** GET over HTTPS/1.1 with `servername` as SNI (none when undefined) and `host` as Host. */
function httpsGet(port: number, ca: string[] | undefined, servername: string | undefined, host: string, path = '/'): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.get({
      host: '127.0.0.1', port, path, ca, headers: { host }, agent: false,
      // undefined: the test compares fingerprints itself (two self-signed certificates of one name confuse a CA list).
      rejectUnauthorized: ca !== undefined,
      // No SNI at all when undefined: Node sends none for an IP address; the name is checked by hand.
      servername: servername ?? '',
      checkServerIdentity: () => undefined,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
        resolve({ status: res.statusCode!, body, cn: String(peer.subject?.CN ?? ''), fingerprint: peer.fingerprint256 });
      });
    });
    req.setTimeout(20_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

test('serve --https: each site by SNI with its own certificate, a wildcard, the default; no SNI gets the default; HTTP/2; WebSocket; curl', async (t) => {
  const { dir, ca } = await tlsTree(t);
  const served = await serve(t, ['-c', dir, '--in-process', '--https', '127.0.0.1:0']);
  const port = await httpsPort(served);

  const exact = await httpsGet(port, ca, 'exact.test', 'exact.test');
  assert.deepEqual([exact.status, exact.body, exact.cn], [200, 'exact 1.1', 'exact.test']);
  const wild = await httpsGet(port, ca, 'a.wild.test', 'a.wild.test');
  assert.deepEqual([wild.status, wild.body, wild.cn], [200, 'wild 1.1', '*.wild.test']);
  const plain = await httpsGet(port, ca, 'plain.test', 'plain.test');
  assert.deepEqual([plain.status, plain.body, plain.cn], [200, 'plain 1.1', 'default.test']);
  const noSni = await httpsGet(port, ca, undefined, 'exact.test');
  assert.deepEqual([noSni.status, noSni.body, noSni.cn], [200, 'exact 1.1', 'default.test']);

  // HTTP/2 by ALPN, routed by :authority.
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca, servername: 'a.wild.test', checkServerIdentity: () => undefined });
  t.after(() => session.close());
  const stream = session.request({ ':path': '/', ':authority': 'b.wild.test' });
  let body = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (body += chunk));
  await once(stream, 'end');
  assert.equal(body, 'wild 2.0');
  assert.equal(session.alpnProtocol, 'h2');

  // A WebSocket over TLS (HTTP/1.1 by ALPN, then the upgrade).
  const ws = new WebSocket(`wss://127.0.0.1:${port}/`, { ca, servername: 'exact.test', headers: { host: 'exact.test' }, checkServerIdentity: () => undefined } as never);
  t.after(() => ws.terminate());
  await once(ws, 'open');
  ws.send('hello');
  const [message] = await once(ws, 'message') as [Buffer];
  assert.equal(message.toString(), 'exact: hello');

  const curl = await new Promise<string | undefined>((resolve) => {
    execFile('curl', ['-sS', '--http2', '--cacert', `${dir}/exact.crt`, '--resolve', `exact.test:${port}:127.0.0.1`, `https://exact.test:${port}/`, '-w', ' %{http_version}'],
      { timeout: 20_000 }, (error, stdout) => resolve(error === null ? stdout : `failed: ${error.message}`));
  }).catch(() => undefined);
  if (curl !== undefined && !curl.includes('ENOENT')) assert.equal(curl, 'exact 2.0 2');
});

test('redirect_http: plain requests for a site with a certificate get 308 to https; others and ACME challenges are served', async (t) => {
  const { dir } = await tlsTree(t, 'redirect_http = true\n');
  const served = await serve(t, ['-c', dir, '--in-process', '--https', '127.0.0.1:0']);
  const port = await httpsPort(served);
  const moved = await request(served.port, { path: '/a%20b?x=1', host: 'exact.test' });
  assert.equal(moved.status, 308);
  assert.equal(moved.headers.location, `https://exact.test:${port}/a%20b?x=1`);
  const wild = await request(served.port, { path: '/', host: 'A.Wild.Test:80' });
  assert.equal(wild.headers.location, `https://a.wild.test:${port}/`);
  // No certificate covers bare.test: it stays on plain HTTP.
  const bare = await request(served.port, { path: '/', host: 'bare.test' });
  assert.deepEqual([bare.status, bare.body], [200, 'bare 1.1']);
  // An ACME challenge path is never redirected: hostmux answers it when it holds the token, else the site does.
  writeTree(dir, { 'acme/challenges/tok-en_1': 'tok-en_1.thumbprint' });
  const challenge = await request(served.port, { path: '/.well-known/acme-challenge/tok-en_1', host: 'exact.test' });
  assert.deepEqual([challenge.status, challenge.body], [200, 'tok-en_1.thumbprint']);
  const unknown = await request(served.port, { path: '/.well-known/acme-challenge/other', host: 'bare.test' });
  assert.deepEqual([unknown.status, unknown.body], [200, 'bare 1.1']);
  // A FIFO where a token file would be (put there by mistake) is not read, which would wait for ever: the site answers.
  execFileSync('mkfifo', [join(dir, 'acme', 'challenges', 'fifo')]);
  const fifo = await request(served.port, { path: '/.well-known/acme-challenge/fifo', host: 'bare.test' });
  assert.deepEqual([fifo.status, fifo.body], [200, 'bare 1.1']);
  // An absolute-form target (as to a proxy): the location has its path, not the whole URL after the port.
  const absolute = await rawRequest(served.port, 'GET http://exact.test/p?q=1 HTTP/1.1\r\nHost: exact.test\r\nConnection: close\r\n\r\n');
  assert.match(absolute, new RegExp(`^location: https://exact\\.test:${port}/p\\?q=1\r$`, 'mi'));
  // OPTIONS * has no path to keep.
  const star = await rawRequest(served.port, 'OPTIONS * HTTP/1.1\r\nHost: exact.test\r\nConnection: close\r\n\r\n');
  assert.match(star, new RegExp(`^location: https://exact\\.test:${port}/\r$`, 'mi'));
});

test('a renewed certificate file is picked up on reload while a long download on the old connection completes', async (t) => {
  const { dir, exact } = await tlsTree(t);
  const served = await serve(t, ['-c', dir, '--workers', '1', '--https', `127.0.0.1:${await freePort()}`]);
  const port = await httpsPort(served);
  const renewedDir = tempDir('hostmux-tls-renewed-');
  t.after(renewedDir.remove);
  const renewed = await makeCertificate(renewedDir.path, 'exact', ['exact.test']);
  const ca = undefined;

  const before = await httpsGet(port, ca, 'exact.test', 'exact.test');
  // The long download: its first bytes are out before the reload.
  const download = new Promise<{ body: string; fingerprint: string }>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/slow?ms=3000', rejectUnauthorized: false, servername: 'exact.test', headers: { host: 'exact.test' }, agent: false, checkServerIdentity: () => undefined }, (res) => {
      let body = '';
      const fingerprint = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body === 'started\n') {
          copyFileSync(renewed.cert, exact.cert);
          copyFileSync(renewed.key, exact.key);
          served.child.kill('SIGHUP');
        }
      });
      res.on('end', () => resolve({ body, fingerprint }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  await served.waitFor(/configuration reloaded/);
  const after = await httpsGet(port, ca, 'exact.test', 'exact.test');
  assert.equal(after.fingerprint, new X509Certificate(renewed.certPem).fingerprint256);
  assert.notEqual(after.fingerprint, before.fingerprint);
  const old = await download;
  assert.equal(old.body, 'started\nfinished\n');
  assert.equal(old.fingerprint, before.fingerprint);
});

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

