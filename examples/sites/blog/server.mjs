// A plain request listener. createHandler runs once, on the first request,
// and gets the site's settings: every section of blog.ini but [site].
import { siteOf } from 'hostmux';

export function createHandler(site) {
  const { title, author } = site.settings.blog;
  site.logger.info(`blog ready: ${title}`);
  return (req, res) => {
    const { hostname, wildcards } = siteOf(req);
    const section = wildcards.length > 0 ? ` — section "${wildcards[0]}"` : '';
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><title>${title}</title><h1>${title}${section}</h1><p>by ${author}, served for ${hostname}</p>\n`);
  };
}
