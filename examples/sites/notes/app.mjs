// An Express 5 app: hostmux hands it every request for notes.localhost.
import express from 'express';

const app = express();
const notes = [{ id: 1, text: 'hostmux routes by host name' }];

app.use(express.json());
app.get('/', (req, res) => res.json(notes));
app.post('/', (req, res) => {
  const note = { id: notes.length + 1, text: String(req.body?.text ?? '') };
  notes.push(note);
  res.status(201).json(note);
});

export default app;
