// How graphql-ws's client fares against a hub that refuses its socket: how soon its error handler fires,
// with which close code and reason, and how many sockets it opened (a client that retries a refusal opens another).
//
//   node reject.mjs ws://127.0.0.1:PORT/graphql
//
// Prints one JSON array, one entry per case: {case, code, reason, elapsedMs, sockets}.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url] = process.argv.slice(2);
const GIVE_UP_MS = 15000; // past this, the client is still retrying: report it rather than hang

const cases = [
  { case: 'no token', connectionParams: {} },
  { case: 'bad token', connectionParams: { Authorization: 'Bearer garbage' } },
];

async function attempt({ case: name, connectionParams }) {
  let sockets = 0;
  // The client's defaults (retryAttempts 5, randomised exponential backoff) are what users run.
  const client = createClient({ url, webSocketImpl: WebSocket, connectionParams, on: { opened: () => sockets++ } });
  const started = performance.now();
  const outcome = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ code: null, reason: 'still retrying', timedOut: true }), GIVE_UP_MS);
    client.subscribe(
      { query: '{ __typename }' },
      {
        next: () => {},
        error: (error) => {
          clearTimeout(timer);
          resolve({ code: error?.code ?? null, reason: error?.reason ?? String(error) });
        },
        complete: () => {
          clearTimeout(timer);
          resolve({ code: null, reason: 'completed: the socket was accepted' });
        },
      },
    );
  });
  const elapsedMs = Math.round(performance.now() - started);
  await client.dispose();
  return { case: name, ...outcome, elapsedMs, sockets };
}

const results = [];
for (const entry of cases) results.push(await attempt(entry));
process.stdout.write(JSON.stringify(results) + '\n');
