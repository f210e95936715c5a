// Routing tests you can copy: which site answers which host, asked of
// app.match() — pure routing, no module loaded, no request made.
// Run: node --test examples/routing.test.mjs
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createApplication } from 'hostmux';

const app = createApplication(fileURLToPath(new URL('./etc/', import.meta.url)));
after(() => app.close());

test('each host goes to the site meant for it', () => {
  const expected = {
    'blog.localhost': 'blog',
    'notes.localhost': 'notes',
    'api.localhost': 'api',
    'shop.localhost': 'shop',
    'status.localhost': 'status',
    'chat.localhost': 'chat',
    'legacy.localhost': 'legacy',
    'www.localhost': 'www',
    localhost: 'www',
  };
  for (const [host, site] of Object.entries(expected)) {
    assert.equal(app.match(host)?.site, site, host);
  }
});

test('case, a port and a trailing dot do not change the answer', () => {
  assert.equal(app.match('BLOG.localhost:8080')?.site, 'blog');
  assert.equal(app.match('blog.localhost.')?.site, 'blog');
});

test('patterns hand their wildcard parts to the site', () => {
  assert.deepEqual(app.match('travel.blog.localhost'), { site: 'blog', pattern: '*.blog.localhost', wildcards: ['travel'] });
  assert.deepEqual(app.match('api-v2.localhost'), { site: 'api', pattern: 'api-*.localhost', wildcards: ['v2'] });
});

test('a * never crosses a dot', () => {
  assert.equal(app.match('a.b.blog.localhost'), null);
});

test('unclaimed and invalid hosts match nothing', () => {
  assert.equal(app.match('unknown.localhost'), null);
  assert.equal(app.match('a..b'), null);
  assert.equal(app.match('bad_host!'), null);
});
