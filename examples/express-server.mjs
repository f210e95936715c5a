// hostmux inside an Express 5 app: a host that a site claims is served by
// that site; any other host falls through to the Express routes after it.
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createApplication } from 'hostmux';

const configDir = process.env.HOSTMUX_HOME || fileURLToPath(new URL('./etc/', import.meta.url));
const app = createApplication(configDir);

const web = express();
web.use(app);
web.get('/', (req, res) => {
  res.type('text/plain').send(`no site claims ${req.hostname}; this is Express\n`);
});

const server = web.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', (err) => {
  if (err) throw err;
  const { address, port } = server.address();
  console.log(`Express with hostmux is serving ${app.sites.length} sites on http://${address}:${port}`);
  console.log(`try: curl http://blog.localhost:${port}/ and curl http://127.0.0.1:${port}/`);
});
// Express does not see upgrades: hand them to hostmux directly.
server.on('upgrade', app.upgrade);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    server.closeIdleConnections();
    app.close().then(() => process.exit(0));
  });
}
