// A consumer of the result events as the README describes one: graphql-ws's client subscribes to
// resultPublished, handles a number of events, disconnects, and resumes from the cursor of the last event
// it handled, in as many sessions as asked.
//
//   PERFHUB_TOKEN=... node resume.mjs ws://127.0.0.1:PORT/graphql 40,40,40 [quietMs]
//
// Session i handles sizes[i] events. Sessions end alternately with a clean close (dispose) and an abrupt
// one (terminate, as a dropped network would). The last session then listens quietMs more, and reports
// whatever else arrives as `extra` (there should be nothing: the outbox holds no more events).
// Prints one JSON object: {sessions: [{after, events: [{cursor, eventId}], ending}], extra, elapsedMs}.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, sizesArgument, quietArgument] = process.argv.slice(2);
const token = process.env.PERFHUB_TOKEN;
if (!url || !sizesArgument || !token) {
  console.error('usage: PERFHUB_TOKEN=... node resume.mjs URL SIZE,SIZE,... [quietMs]');
  process.exit(2);
}
const sizes = sizesArgument.split(',').map(Number);
const quietMs = Number(quietArgument ?? 1500);
const SESSION_TIMEOUT_MS = 30000;
const QUERY = 'subscription($after: String) { resultPublished(after: $after) { cursor eventId } }';

// Handles `take` events after the cursor; with `listenMs`, keeps listening that long and collects extras.
async function session(after, take, listenMs) {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0, // a refusal or a drop is a failure of the test, not something to ride out
  });
  const events = [];
  const extra = [];
  let unsubscribe = () => {};
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`session timed out with ${events.length}/${take} events`)), SESSION_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    unsubscribe = client.subscribe(
      { query: QUERY, variables: { after } },
      {
        next: (result) => {
          if (result.errors) {
            reject(new Error(`errors: ${JSON.stringify(result.errors)}`));
            return;
          }
          const { cursor, eventId } = result.data.resultPublished;
          if (events.length < take) {
            events.push({ cursor, eventId });
            if (events.length === take) {
              if (listenMs) setTimeout(done, listenMs);
              else done();
            }
          } else {
            extra.push({ cursor, eventId });
          }
        },
        error: (error) => reject(new Error(`subscription error: ${error?.code ?? ''} ${error?.reason ?? JSON.stringify(error)}`)),
        complete: () => reject(new Error('the subscription completed: a live stream never should')),
      },
    );
  });
  return { client, unsubscribe, events, extra };
}

const started = performance.now();
const sessions = [];
let extra = [];
let after = null;
for (const [index, take] of sizes.entries()) {
  const last = index === sizes.length - 1;
  const current = await session(after, take, last ? quietMs : 0);
  const ending = index % 2 === 0 ? 'dispose' : 'terminate';
  if (ending === 'dispose') {
    current.unsubscribe();
    await current.client.dispose();
  } else {
    current.client.terminate();
  }
  sessions.push({ after, events: current.events, ending });
  if (last) extra = current.extra;
  after = current.events.at(-1)?.cursor ?? after;
}
const elapsedMs = Math.round(performance.now() - started);
process.stdout.write(JSON.stringify({ sessions, extra, elapsedMs }) + '\n');
