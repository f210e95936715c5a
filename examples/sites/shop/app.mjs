// A Koa 3 app: hostmux hands app.callback() every request for shop.localhost.
import Koa from 'koa';
import { siteOf } from 'hostmux';

const app = new Koa();
const items = [{ id: 1, name: 'hostmux mug' }];

app.use(async (ctx) => {
  if (ctx.path === '/items') {
    ctx.body = items;
    return;
  }
  ctx.body = { site: siteOf(ctx.req)?.name, host: ctx.host, path: ctx.path };
});

export default app.callback();
