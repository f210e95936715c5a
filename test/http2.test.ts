// HTTP/2 through the compatibility API: routed by :authority (README: Routing › Which host).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createApplication, type Application } from '../src/index.ts';
import { tempDir, writeTree } from './helpers.ts';

const dir = tempDir();
let app: Application;
let server: http2.Http2Server;
let client: http2.ClientHttp2Session;

before(async () => {
  writeTree(dir.path, {
    'sites-enabled/plain.ini': '[site]\ndomains = plain.test, *.plain.test\nhandler = ../plain.mjs\n',
    'sites-enabled/web.ini': '[site]\ndomains = web.test\nhandler = ../web.mjs\n',
    'plain.mjs':
      "export default (req, res) => res.end(JSON.stringify(req[Symbol.for('hostmux.site')]));\n",
    'web.mjs':
      'export default { async fetch(request) {\n' +
      '  const headers = new Headers([["set-cookie", "a=1"], ["set-cookie", "b=2"]]);\n' +
      '  return new Response(`${request.method} ${request.url} ${await request.text()}`, { headers });\n' +
      '} };\n',
  });
  app = createApplication(dir.path);
  server = http2.createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

after(async () => {
  client.close();
  server.close();
  await app.close();
  dir.remove();
});

function h2request(authority: string, method = 'GET', body?: string, extra: http2.OutgoingHttpHeaders = {}) {
  return new Promise<{ status: number; cookies: string[] | undefined; body: string }>((resolve, reject) => {
    const stream = client.request({ ':method': method, ':path': '/p?x=1', ':authority': authority, ...extra });
    let text = '';
    let headers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (headers = h));
    stream.on('data', (chunk: Buffer) => (text += chunk));
    stream.on('end', () => resolve({ status: Number(headers[':status']), cookies: headers['set-cookie'], body: text }));
    stream.on('error', reject);
    stream.end(body);
  });
}

test('HTTP/2: :authority routes to exact and pattern sites', async () => {
  const exact = await h2request('plain.test');
  assert.equal(exact.status, 200);
  assert.deepEqual(JSON.parse(exact.body), { name: 'plain', hostname: 'plain.test', wildcards: [] });
  const pattern = await h2request('Deep.PLAIN.test:8443');
  assert.deepEqual(JSON.parse(pattern.body), { name: 'plain', hostname: 'deep.plain.test', wildcards: ['deep'] });
});

test('HTTP/2: a fetch-style site gets the body and sends several set-cookie', async () => {
  const reply = await h2request('web.test', 'POST', 'hello');
  assert.equal(reply.status, 200);
  assert.equal(reply.body, 'POST http://web.test/p?x=1 hello');
  assert.deepEqual(reply.cookies, ['a=1', 'b=2']);
});

test('HTTP/2: unmatched :authority is 404, an invalid one 400', async () => {
  assert.equal((await h2request('other.test')).status, 404);
  assert.equal((await h2request('bad..test')).status, 400);
});

test('HTTP/2: a Host header naming another host than :authority is malformed: 400 (RFC 9113 8.3.1)', async () => {
  assert.equal((await h2request('plain.test', 'GET', undefined, { host: 'web.test' })).status, 400);
  assert.equal((await h2request('web.test', 'GET', undefined, { host: 'x.plain.test' })).status, 400);
  // The same host, in another case or with a port, is the same entity.
  const same = await h2request('plain.test', 'GET', undefined, { host: 'PLAIN.test:443' });
  assert.equal(same.status, 200);
  assert.deepEqual(JSON.parse(same.body), { name: 'plain', hostname: 'plain.test', wildcards: [] });
});
