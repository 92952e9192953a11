#!/usr/bin/env bash
# Fetches GraphiQL's browser bundles from the npm registry into this folder, with their
# licences, and writes VERSIONS. Run it from anywhere; it needs npm and tar.
# To move to other releases, change the versions below and run it again.
set -euo pipefail

GRAPHIQL=3.9.0
REACT=18.3.1
GRAPHQL_WS=6.4.2

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" "graphql-ws@$GRAPHQL_WS" >/dev/null

unpack() { mkdir "$1" && tar -xzf "$1-$2.tgz" -C "$1" --strip-components=1; }
unpack graphiql "$GRAPHIQL"
unpack react "$REACT"
unpack react-dom "$REACT"
unpack graphql-ws "$GRAPHQL_WS"

cp graphiql/graphiql.min.js graphiql/graphiql.min.css "$here/"
cp react/umd/react.production.min.js react-dom/umd/react-dom.production.min.js "$here/"
cp graphql-ws/umd/graphql-ws.min.js "$here/"
cp graphiql/LICENSE "$here/LICENSE.graphiql"
cp react/LICENSE "$here/LICENSE.react"
cp react-dom/LICENSE "$here/LICENSE.react-dom"
cp graphql-ws/LICENSE.md "$here/LICENSE.graphql-ws"

{
  echo "# Fetched by fetch.sh (npm pack) from the npm registry; edit the versions there."
  echo "graphiql $GRAPHIQL graphiql.min.js graphiql.min.css (MIT)"
  echo "react $REACT react.production.min.js (MIT)"
  echo "react-dom $REACT react-dom.production.min.js (MIT)"
  echo "graphql-ws $GRAPHQL_WS graphql-ws.min.js (MIT)"
  echo
  echo "# sha256"
  (cd "$here" && sha256sum -- *.min.js *.min.css)
} >"$here/VERSIONS"
