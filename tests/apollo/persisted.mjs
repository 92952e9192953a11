// Apollo Client's persisted-query link against a lifegraph server: node persisted.mjs URL TOKEN
// Prints, as JSON, what each query returned and what each HTTP request carried.
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, token] = process.argv.slice(2);
const sent = [];
const recordingFetch = async (input, init) => {
  const body = JSON.parse(init.body);
  sent.push({ hasQuery: typeof body.query === "string", hash: body.extensions?.persistedQuery?.sha256Hash ?? null });
  return fetch(input, init);
};

function client() {
  const persisted = new PersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
  });
  const http = new HttpLink({ uri: url, fetch: recordingFetch, headers: { Authorization: `Bearer ${token}` } });
  return new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
}

const ME = gql`query Me { me { id email } }`;
const first = await client().query({ query: ME, fetchPolicy: "network-only" });
const second = await client().query({ query: ME, fetchPolicy: "network-only" });
console.log(JSON.stringify({ first: first.data, second: second.data, sent }));
