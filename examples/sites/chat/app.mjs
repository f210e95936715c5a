// A chat room over WebSocket (the `ws` package): GET / serves the page,
// upgrade() takes the WebSocket, and every message goes to everyone.
// hostmux calls upgrade() for requests to this site's hosts when the server
// wires `server.on('upgrade', app.upgrade)` (the hostmux command does).
import { WebSocketServer } from 'ws';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>hostmux chat</title>
<ul id="log"></ul>
<form id="say"><input id="text" autofocus autocomplete="off"><button>Send</button></form>
<script>
  const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws');
  ws.onmessage = (event) => {
    const item = document.createElement('li');
    item.textContent = event.data;
    document.getElementById('log').append(item);
  };
  document.getElementById('say').onsubmit = (event) => {
    event.preventDefault();
    ws.send(document.getElementById('text').value);
    document.getElementById('text').value = '';
  };
</script>
`;

export function createHandler(site) {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      for (const client of wss.clients) client.send(String(data));
    });
  });

  const listener = (req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(PAGE);
  };
  listener.upgrade = (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  listener.close = () => {
    // 1001 "going away": browsers may reconnect to another worker or after the restart.
    for (const client of wss.clients) client.close(1001);
    wss.close();
    site.logger.info('chat closed');
  };
  return listener;
}
