// Runs graphql-http's GraphQL-over-HTTP server audits against a URL and prints the results as JSON.
//
//   PERFHUB_TOKEN=... node audit.mjs http://127.0.0.1:PORT/graphql
//
// The audits send their own headers; the fetch below adds the bearer token to each request, so that
// they run as an authenticated client would (perfhub refuses anonymous operations other than
// introspection).
import { serverAudits } from 'graphql-http';

const [url] = process.argv.slice(2);
const token = process.env.PERFHUB_TOKEN;
if (!url || !token) {
  console.error('usage: PERFHUB_TOKEN=... node audit.mjs URL');
  process.exit(2);
}

function authorisedFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await Promise.all(serverAudits({ url, fetchFn: authorisedFetch }).map(({ fn }) => fn()));
const report = results.map(({ id, name, status, reason }) => ({ id, name, status, reason: reason ?? null }));
process.stdout.write(JSON.stringify(report) + '\n');
