// An Express.js app for lambda-adapter: JSON routes, a request body, and a 404.
"use strict";

const express = require("express");

const app = express();
app.use(express.json({ limit: "6mb" }));

app.get("/", (req, res) => {
  res.json({ message: "Hello from Express on Lambda" });
});

app.get("/greet", (req, res) => {
  const name = typeof req.query.name === "string" ? req.query.name : "world";
  res.json({ greeting: `Hello, ${name}!`, path: req.path });
});

app.post("/echo", (req, res) => {
  // The adapter sends the event body as the request body, with the event's content-type.
  res.status(201).json({ received: req.body, contentType: req.get("content-type") });
});

app.use((req, res) => {
  res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
});

const port = Number(process.env.PORT || 8080);
const server = app.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});
// Lambda sends SIGTERM to the app at shutdown: finish in-flight requests, then exit.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
