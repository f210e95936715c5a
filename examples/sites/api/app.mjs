// A Hono app: fetch-style. hostmux turns the Node request into a Request.
import { Hono } from 'hono';
import { siteOf } from 'hostmux';

const app = new Hono();
app.get('/', (c) => c.json({ site: siteOf(c.req.raw)?.name, url: c.req.url }));
app.get('/hello/:name', (c) => c.text(`hello, ${c.req.param('name')}\n`));
app.get('/version', (c) => c.json({ version: siteOf(c.req.raw)?.wildcards[0] ?? 'latest' }));

export default app;
