// hostmux as a Fastify 5 plugin: a host that a site claims is handed to
// that site before Fastify parses the body; any other host goes to the
// Fastify routes. Upgrades (WebSocket) follow the same rule, and
// fastify.close() closes the sites.
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import hostmux from 'hostmux/fastify';

const configDir = process.env.HOSTMUX_HOME || fileURLToPath(new URL('./etc/', import.meta.url));
const fastify = Fastify({ logger: true });

await fastify.register(hostmux, { configDir });
fastify.get('/', async (request) => `no site claims ${request.hostname}; this is Fastify\n`);

const address = await fastify.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? '127.0.0.1' });
console.log(`Fastify with hostmux is serving on ${address}`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    fastify.close().then(() => process.exit(0));
  });
}
