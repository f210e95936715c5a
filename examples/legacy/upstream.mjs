// The "legacy" app: its own process, its own server, reached through the
// proxy site examples/etc/sites-available/legacy.ini. It shows what the
// proxy tells an upstream: the Host it kept and the X-Forwarded-* headers.
import http from 'node:http';

const server = http.createServer((req, res) => {
  if (req.method === 'POST') {
    // Streams the body back as it arrives: the proxy never holds it whole.
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('set-cookie', ['legacy_session=1; HttpOnly', 'legacy_theme=dark']);
  res.end(
    `legacy app, pid ${process.pid}\n` +
      `host: ${req.headers.host}\n` +
      `x-forwarded-for: ${req.headers['x-forwarded-for']}\n` +
      `x-forwarded-host: ${req.headers['x-forwarded-host']}\n` +
      `x-forwarded-proto: ${req.headers['x-forwarded-proto']}\n`,
  );
});

server.listen(Number(process.env.LEGACY_PORT ?? 9001), '127.0.0.1', () => {
  const { port } = server.address();
  // The parent reads this line to learn the port (LEGACY_PORT=0 picks a free one).
  console.log(`legacy upstream on http://127.0.0.1:${port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close(() => process.exit(0)));
// Started by a parent: end with it.
process.on('disconnect', () => process.exit(0));
