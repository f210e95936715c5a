// hostmux in an ordinary node:http server: every request and every upgrade
// (WebSocket) goes to the site that claims its host.
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createApplication } from 'hostmux';

const configDir = process.env.HOSTMUX_HOME || fileURLToPath(new URL('./etc/', import.meta.url));
const app = createApplication(configDir);
const server = http.createServer(app);
server.on('upgrade', app.upgrade);

server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`hostmux is serving ${app.sites.length} sites on http://${address}:${port}`);
  for (const site of app.sites) console.log(`  ${site.name.padEnd(6)} ${site.kind.padEnd(8)} ${site.domains.join(', ')}`);
  console.log(`try: curl http://blog.localhost:${port}/`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    server.closeIdleConnections();
    app.close().then(() => process.exit(0));
  });
}
