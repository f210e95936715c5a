// The deploy recipes (examples/deploy/) and what they rely on: hostmux/service,
// serve's systemd notifications, the unit (systemd-analyze verify), the
// Containerfile's instructions, the Kubernetes manifests (parsed, checked,
// their tree checked by `hostmux check`), and --watch following a ConfigMap
// update with requests running throughout.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { tempDir, writeTree } from './helpers.ts';
import { CLI, childEnv, hostmux, serve } from './serve-helpers.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEPLOY = join(ROOT, 'examples', 'deploy');
const run = promisify(execFile);

/** serve's drain bound, and what follows it, as the recipes must allow: --drain, the sites' close(), a worker's last grace. */
const CLOSE_BOUND_S = 10;
const STOP_GRACE_S = 5;

test('hostmux/service: the application for $HOSTMUX_HOME, made once, upgrade bound; a bad tree throws every problem', async (t) => {
  const dir = tempDir('hostmux-service-');
  t.after(dir.remove);
  writeTree(dir.path, {
    'sites-enabled/a.ini': '[site]\ndomains = a.test\nredirect = https://example.test\n',
    'server.mjs': `
      import http from 'node:http';
      import app from 'hostmux/service';
      import again from 'hostmux/service';
      const server = http.createServer(app).on('upgrade', app.upgrade).listen(0, '127.0.0.1', () => {
        http.get({ host: '127.0.0.1', port: server.address().port, headers: { host: 'a.test' } }, (res) => {
          console.log(JSON.stringify({ same: app === again, status: res.statusCode, location: res.headers.location, sites: app.sites.map((s) => s.name), upgrade: typeof app.upgrade }));
          server.close();
          app.close();
        });
      });
    `,
  });
  // The package resolves itself by name from inside it: run the script from the project.
  const script = join(ROOT, `.service-test-${process.pid}.mjs`);
  writeFileSync(script, readFileSync(join(dir.path, 'server.mjs')));
  t.after(() => rmSync(script, { force: true }));
  const { stdout } = await run(process.execPath, [script], { env: childEnv({ HOSTMUX_HOME: dir.path }) });
  assert.deepEqual(JSON.parse(stdout), { same: true, status: 308, location: 'https://example.test/', sites: ['a'], upgrade: 'function' });

  writeTree(dir.path, { 'sites-enabled/b.ini': '[site]\ndomains = a.test\n' });
  const failed = await run(process.execPath, [script], { env: childEnv({ HOSTMUX_HOME: dir.path }) }).then(() => undefined, (error: { stderr: string }) => error.stderr);
  assert.match(failed!, /ConfigError: \d+ configuration problems?:/);
  // Unset, it is /etc/hostmux, as for the command.
  const none = await run(process.execPath, [script], { env: childEnv({ HOSTMUX_HOME: '' }) }).then(() => undefined, (error: { stderr: string }) => error.stderr);
  assert.match(none!, /\/etc\/hostmux/);
});

/** A fake NOTIFY_SOCKET: a unix datagram socket (Node has none: python3's), each message a line. */
async function notifySocket(t: TestContext): Promise<{ path: string; messages: () => string[]; waitFor: (pattern: RegExp, from?: number) => Promise<void> }> {
  const dir = tempDir('hostmux-notify-');
  t.after(dir.remove);
  const path = join(dir.path, 'notify.sock');
  const receiver = spawn('python3', ['-c', [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(sys.argv[1])',
    "print('bound', flush=True)",
    'while True:',
    "    print(s.recv(65536).decode().replace('\\n', '|'), flush=True)",
  ].join('\n'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => receiver.kill());
  let text = '';
  const waiters = new Set<() => void>();
  receiver.stdout.setEncoding('utf8');
  receiver.stdout.on('data', (chunk: string) => {
    text += chunk;
    waiters.forEach((wake) => wake());
  });
  const messages = () => text.split('\n').filter((line) => line !== '' && line !== 'bound' && line !== 'BARRIER=1');
  const waitFor = (pattern: RegExp, from = 0) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify(messages())}`)), 30_000);
    const check = () => {
      if (messages().slice(from).some((line) => pattern.test(line))) {
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      }
    };
    waiters.add(check);
    check();
  });
  await new Promise<void>((resolve) => {
    const ready = () => text.includes('bound') && (waiters.delete(ready), resolve());
    waiters.add(ready);
  });
  return { path, messages, waitFor };
}

test('serve tells systemd: READY=1 once serving, RELOADING=1 then READY=1 around a reload (taken or refused), STOPPING=1', { timeout: 90_000 }, async (t) => {
  const notify = await notifySocket(t);
  const dir = tempDir('hostmux-notified-');
  t.after(dir.remove);
  writeTree(dir.path, { 'sites-enabled/a.ini': '[site]\ndomains = a.test\nredirect = https://example.test\n' });
  const child = spawn(process.execPath, [CLI, 'serve', '-c', dir.path, '--port', '0', '--workers', '2'], {
    env: childEnv({ NOTIFY_SOCKET: notify.path }), stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk));
  await notify.waitFor(/^READY=1\|STATUS=serving 1 site on http:\/\/127\.0\.0\.1:\d+ with 2 workers$/);
  assert.match(log, /listening on/, 'READY=1 comes once serve listens');

  let mark = notify.messages().length;
  writeTree(dir.path, { 'sites-enabled/b.ini': '[site]\ndomains = b.test\nredirect = https://example.test\n' });
  child.kill('SIGHUP');
  await notify.waitFor(/^READY=1\|STATUS=serving; reloaded: added b; 1 kept$/, mark);
  const reload = notify.messages().slice(mark);
  assert.match(reload[0]!, /^RELOADING=1\|MONOTONIC_USEC=\d+\|STATUS=reloading$/);
  // MONOTONIC_USEC is CLOCK_MONOTONIC, as systemd compares it: within a minute of this process's.
  const usec = Number(/MONOTONIC_USEC=(\d+)/.exec(reload[0]!)![1]);
  assert.ok(Math.abs(usec - Number(process.hrtime.bigint() / 1000n)) < 60e6, String(usec));
  assert.match(log, /configuration reloaded: added b/);

  mark = notify.messages().length;
  // A refused tree whose problem names a file with a newline in its name: the status stays one line.
  writeTree(dir.path, { 'sites-enabled/c\nMAINPID=1.ini': '[site]\ndomains = a.test\n' });
  child.kill('SIGHUP');
  await notify.waitFor(/^READY=1\|STATUS=serving; reload refused: /, mark);
  assert.match(notify.messages()[mark]!, /^RELOADING=1/);
  const refused = notify.messages().slice(mark).find((line) => line.startsWith('READY=1'))!;
  assert.equal(refused.split('|').length, 2, refused);
  assert.match(refused, /c\\x0aMAINPID=1\.ini/);
  rmSync(join(dir.path, 'sites-enabled', 'c\nMAINPID=1.ini'));

  mark = notify.messages().length;
  child.kill('SIGTERM');
  await notify.waitFor(/^STOPPING=1\|STATUS=stopping$/, mark);
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
});

test('serve without NOTIFY_SOCKET runs no systemd-notify; with one it cannot reach, it warns once and serves on', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hostmux-notify-none-');
  t.after(dir.remove);
  writeTree(dir.path, { 'sites-enabled/a.ini': '[site]\ndomains = a.test\nredirect = https://example.test\n' });
  const nowhere = join(dir.path, 'nothing-here.sock');
  const child = spawn(process.execPath, [CLI, 'serve', '-c', dir.path, '--port', '0', '--in-process'], {
    env: childEnv({ NOTIFY_SOCKET: nowhere }), stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let log = '';
  const warned = new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => {
    log += chunk;
    if (/cannot tell systemd/.test(log)) resolve();
  }));
  await warned;
  assert.match(log, /WARN root: cannot tell systemd \(NOTIFY_SOCKET is set\): systemd-notify READY=1/);
  child.kill('SIGHUP');
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.equal(log.match(/cannot tell systemd/g)?.length, 1, 'warned once');
});

/** `Key=value` lines of a unit file, by key (the last one wins, as systemd reads them). */
function unitKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    const found = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (found !== null) keys.set(found[1]!, found[2]!);
  }
  return keys;
}

test('the systemd unit: systemd-analyze verify passes; notify, reload, restart, stop bound, user, capability, hardening', async (t) => {
  const unit = readFileSync(join(DEPLOY, 'systemd', 'hostmux.service'), 'utf8');
  const keys = unitKeys(unit);
  assert.equal(keys.get('Type'), 'notify');
  assert.equal(keys.get('NotifyAccess'), 'all', 'systemd-notify sends, not the main process');
  assert.equal(keys.get('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(keys.get('Restart'), 'always');
  assert.equal(keys.get('KillMode'), 'mixed');
  assert.equal(keys.get('User'), 'hostmux');
  assert.equal(keys.get('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['PrivateTmp', 'yes']]) assert.equal(keys.get(key!), value, key);
  assert.match(keys.get('ReadWritePaths')!, /\/var\/log\/hostmux/);
  assert.match(keys.get('ReadWritePaths')!, /\/var\/lib\/hostmux/);
  const drain = Number(/--drain (\d+)/.exec(keys.get('ExecStart')!)![1]);
  assert.ok(Number(keys.get('TimeoutStopSec')) >= drain + CLOSE_BOUND_S + STOP_GRACE_S, 'systemd waits longer than serve may take to stop');
  assert.match(keys.get('ExecStart')!, /--pidfile \/run\/hostmux\//);
  assert.equal(keys.get('RuntimeDirectory'), 'hostmux');

  // verify wants ExecStart's program to exist: the unit as installed, with the path this test can offer.
  const dir = tempDir('hostmux-unit-');
  t.after(dir.remove);
  const bin = join(dir.path, 'hostmux');
  writeFileSync(bin, `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`);
  chmodSync(bin, 0o755);
  const file = join(dir.path, 'hostmux.service');
  writeFileSync(file, unit.replace('/usr/local/bin/hostmux', bin));
  const verified = await run('systemd-analyze', ['verify', file]).then(
    ({ stdout, stderr }) => ({ ok: true, out: stdout + stderr }),
    (error: { stdout: string; stderr: string }) => ({ ok: false, out: error.stdout + error.stderr }),
  );
  assert.ok(verified.ok, verified.out);
  // Not even a warning about the unit itself (a missing user is the machine's, not the file's).
  assert.deepEqual(verified.out.split('\n').filter((line) => line.includes('hostmux.service') && !/User|Group|hostmux: .*user/i.test(line)), []);
});

test('the Containerfile: slim Node 20, a non-root user, STOPSIGNAL, the port, a HEALTHCHECK on /healthz, the tree at /etc/hostmux', () => {
  const text = readFileSync(join(DEPLOY, 'container', 'Containerfile'), 'utf8');
  // Instructions, continuation lines joined, comments dropped.
  const instructions = text.replace(/\\\n\s*/g, ' ').split('\n').filter((line) => /^[A-Z]+\s/.test(line));
  const all = (name: string) => instructions.filter((line) => line.startsWith(`${name} `)).map((line) => line.slice(name.length + 1).trim());
  const froms = all('FROM');
  assert.ok(froms.every((from) => /^node:20-slim\b/.test(from)), froms.join(', '));
  assert.deepEqual(all('USER'), ['node']);
  assert.deepEqual(all('STOPSIGNAL'), ['SIGTERM']);
  assert.deepEqual(all('EXPOSE'), ['8080']);
  const cmd = JSON.parse(all('CMD').at(-1)!) as string[];
  assert.deepEqual(cmd.slice(0, 3), ['node', 'dist/cli/main.js', 'serve']);
  assert.equal(cmd[cmd.indexOf('--port') + 1], '8080');
  const admin = cmd[cmd.indexOf('--admin') + 1]!;
  assert.match(all('HEALTHCHECK')[0]!, new RegExp(`http://${admin.replace('.', '\\.')}/healthz`));
  assert.match(all('ENV')[0]!, /HOSTMUX_HOME=\/etc\/hostmux/);
  // The last stage runs as that user: USER comes after the last FROM.
  assert.ok(instructions.findLastIndex((line) => line.startsWith('USER ')) > instructions.findLastIndex((line) => line.startsWith('FROM ')));
});

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function manifests(): Manifest[] {
  const dir = join(DEPLOY, 'kubernetes');
  return ['configmap.yaml', 'deployment.yaml', 'service.yaml', 'hpa.yaml'].flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((document) => {
      assert.deepEqual(document.errors, [], file);
      return document.toJS() as Manifest;
    }));
}

/** Writes a ConfigMap's data as the kubelet mounts it: a timestamped dir, `..data`, and a link per key. */
function mountConfigMap(volume: string, data: Record<string, string>, stamp: string): void {
  const dir = join(volume, stamp);
  mkdirSync(dir, { recursive: true });
  for (const [key, value] of Object.entries(data)) writeFileSync(join(dir, key), value);
  symlinkSync(stamp, join(volume, '..data_tmp'));
  renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
  for (const key of Object.keys(data)) {
    try {
      symlinkSync(`..data/${key}`, join(volume, key));
    } catch {
      // Already linked by an earlier version.
    }
  }
}

test('the Kubernetes manifests parse; the Deployment, Service, probes, preStop, grace, resources and HPA fit together; hostmux check accepts the ConfigMap\'s tree', async (t) => {
  const all = manifests();
  const byKind = new Map(all.map((manifest) => [manifest.kind, manifest]));
  const deployment = byKind.get('Deployment')!.spec as {
    replicas: number; strategy: { type: string; rollingUpdate: { maxUnavailable: number } };
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: {
      terminationGracePeriodSeconds: number; volumes: { configMap: { name: string } }[];
      containers: { args: string[]; ports: { name: string; containerPort: number }[];
        readinessProbe: { exec: { command: string[] } }; livenessProbe: { exec: { command: string[] } };
        lifecycle: { preStop: { exec: { command: string[] } } };
        resources: { requests: { cpu: string; memory: string }; limits: { memory: string } };
        volumeMounts: { mountPath: string }[] }[] } };
  };
  assert.ok(deployment.replicas >= 2);
  assert.equal(deployment.strategy.type, 'RollingUpdate');
  assert.equal(deployment.strategy.rollingUpdate.maxUnavailable, 0);
  const pod = deployment.template.spec;
  const container = pod.containers[0]!;
  const args = container.args;
  assert.ok(args.includes('--watch'), 'follows ConfigMap updates');
  const drain = Number(args[args.indexOf('--drain') + 1]);
  const preStop = Number(container.lifecycle.preStop.exec.command.at(-1));
  assert.deepEqual(container.lifecycle.preStop.exec.command.slice(0, 1), ['sleep']);
  assert.ok(pod.terminationGracePeriodSeconds >= preStop + drain + CLOSE_BOUND_S + STOP_GRACE_S, 'the grace covers preStop, the drain and the close');
  assert.match(container.readinessProbe.exec.command.join(' '), /127\.0\.0\.1:2019\/readyz/);
  assert.match(container.livenessProbe.exec.command.join(' '), /127\.0\.0\.1:2019\/healthz/);
  assert.match(container.resources.requests.memory, /^\d+Mi$/);
  assert.ok(parseInt(container.resources.requests.memory, 10) >= 180, 'a primary and two workers idle take about 180 MiB');
  assert.equal(container.volumeMounts[0]!.mountPath, '/etc/hostmux');
  assert.deepEqual(deployment.selector.matchLabels, deployment.template.metadata.labels);

  const service = byKind.get('Service')!.spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
  assert.deepEqual(service.selector, deployment.template.metadata.labels);
  assert.ok(container.ports.some((port) => port.name === service.ports[0]!.targetPort));
  const hpa = byKind.get('HorizontalPodAutoscaler')!.spec as { scaleTargetRef: { kind: string; name: string }; metrics: { resource: { name: string } }[] };
  assert.deepEqual(hpa.scaleTargetRef.kind, 'Deployment');
  assert.equal(hpa.scaleTargetRef.name, byKind.get('Deployment')!.metadata.name);
  assert.equal(hpa.metrics[0]!.resource.name, 'cpu');

  const configMap = byKind.get('ConfigMap')!;
  assert.equal(pod.volumes[0]!.configMap.name, configMap.metadata.name);
  // The admin listener the probes ask is in the tree.
  assert.match(configMap.data!['hostmux.conf']!, /^listen = 127\.0\.0\.1:2019$/m);
  const base = tempDir('hostmux-k8s-');
  t.after(base.remove);
  const volume = join(base.path, 'hostmux');
  mountConfigMap(volume, configMap.data!, '..2026_12_03_10_00_00.1');
  const check = await hostmux(['check', '-c', volume]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /is ok: 2 sites loaded/);
});

test('serve --watch on a ConfigMap volume: the kubelet\'s ..data swap changes what is served, and no request fails meanwhile', { timeout: 90_000 }, async (t) => {
  const configMap = manifests().find((manifest) => manifest.kind === 'ConfigMap')!;
  const base = tempDir('hostmux-k8s-watch-');
  t.after(base.remove);
  const volume = join(base.path, 'hostmux');
  const first = { ...configMap.data!, 'hello.mjs': 'export default (req, res) => res.end("version 1");\n' };
  mountConfigMap(volume, first, '..2026_12_03_10_00_00.1');
  const server = await serve(t, ['-c', volume, '--workers', '2', '--watch', '--admin', '127.0.0.1:0']);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.after(() => agent.destroy());
  const get = (host: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.port, headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
  assert.equal((await get('hello.example.com')).body, 'version 1');
  let going = true;
  const failures: string[] = [];
  const bodies = new Set<string>();
  const clients = Promise.all([0, 1, 2, 3].map(async () => {
    while (going) {
      try {
        const reply = await get('hello.example.com');
        if (reply.status !== 200) failures.push(`${reply.status} ${reply.body}`);
        else bodies.add(reply.body);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  }));
  // The update: new code, and a site added by a new key.
  const mark = server.log().length;
  mountConfigMap(volume, {
    ...first,
    'hello.mjs': 'export default (req, res) => res.end("version 2");\n',
    'site-extra.ini': '[site]\ndomains = extra.example.com\nredirect = https://hello.example.com\n',
  }, '..2026_12_03_10_05_00.2');
  rmSync(join(volume, '..2026_12_03_10_00_00.1'), { recursive: true });
  await server.waitFor(/configuration reloaded: added site-extra; reloaded site-hello; 1 kept/, mark);
  for (let i = 0; i < 200 && !bodies.has('version 2'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  going = false;
  await clients;
  assert.deepEqual(failures, []);
  assert.ok(bodies.has('version 1') && bodies.has('version 2'), [...bodies].join(', '));
  assert.equal((await get('extra.example.com')).status, 308);
});
