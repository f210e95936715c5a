// What the 'error' listener hostmux adds to every dispatched response costs:
// `node test/bench/response-error-listener.mjs`. One shared function, so the
// cost is the listener slot alone (no closure per request).
import http from 'node:http';
import { Socket } from 'node:net';

function onClose() {}
function onError() {}
const N = 1_000_000;
const req = new http.IncomingMessage(new Socket());
for (let round = 0; round < 3; round++) {
  let start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) new http.ServerResponse(req).on('close', onClose);
  const base = Number(process.hrtime.bigint() - start) / N;
  start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) new http.ServerResponse(req).on('close', onClose).on('error', onError);
  const withError = Number(process.hrtime.bigint() - start) / N;
  console.log(`response + 'close' listener: ${base.toFixed(0)} ns; + 'error' listener: ${withError.toFixed(0)} ns (+${(withError - base).toFixed(0)} ns)`);
}
