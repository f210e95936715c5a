// A Fastify 5 instance as a site. hostmux owns the server, so Fastify never
// listens: after ready(), fastify.routing(req, res) runs its router, hooks,
// body parsing and serialisation on each request hostmux hands over. Options
// of Fastify's own server (trustProxy, http2, timeouts) do not apply here.
import Fastify from 'fastify';
import { siteOf } from 'hostmux';

export async function createHandler(site) {
  const fastify = Fastify();
  fastify.get('/', async (request) => ({ site: siteOf(request.raw)?.name, hostname: request.hostname, framework: 'fastify' }));
  fastify.post('/echo', async (request) => ({ received: request.body }));
  await fastify.ready();
  site.logger.info('status: fastify is ready');

  const handler = (req, res) => {
    fastify.routing(req, res);
  };
  // hostmux calls close() when the site is removed, reloaded or closed.
  handler.close = () => fastify.close();
  return handler;
}
