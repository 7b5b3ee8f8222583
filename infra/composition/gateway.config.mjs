// Hive Gateway in front of Pointgate and the example reviews subgraph (infra/deploy/compose.yaml,
// tests/infra/test_federation_gateway.py). Run from this folder:
//   SUPERGRAPH=supergraph.graphql POINTGATE_ROUTER_TOKEN=... npx hive-gateway supergraph
// Tracing: OPENTELEMETRY=<OTLP/HTTP traces URL> (e.g. http://otel-collector:4318/v1/traces)
// turns on Hive's OpenTelemetry: it continues a client's `traceparent`, exports its spans and
// passes the context on to the subgraphs, so one trace runs from the client to Pointgate's SQL.
import { defineConfig } from "@graphql-hive/gateway";

// One id per client request, the same on every subgraph fetch it causes: Pointgate bills and
// rate-limits a client operation once, trusting this header only with the router's credential.
const operations = new WeakMap();
// The router's credential and the operation id are Pointgate's: they go to its subgraph only
// (this hook runs once per subgraph fetch, with the subgraph's name), never to another team's.
const POINTGATE = process.env.POINTGATE_SUBGRAPH || "pointgate";

export const gatewayConfig = defineConfig({
  supergraph: process.env.SUPERGRAPH || "./supergraph.graphql",
  port: Number(process.env.PORT || 4000),
  host: process.env.HOST || "0.0.0.0",
  propagateHeaders: {
    fromClientToSubgraphs({ request, subgraphName }) {
      // partners' and members' bearer tokens reach the subgraphs (as router.yaml propagates)
      const headers = {};
      const authorization = request.headers.get("authorization");
      if (authorization) headers.authorization = authorization;
      if (subgraphName !== POINTGATE) return headers;
      let operation = operations.get(request);
      if (!operation) {
        operation = crypto.randomUUID();
        operations.set(request, operation);
      }
      headers["x-pointgate-operation"] = operation;
      if (process.env.POINTGATE_ROUTER_TOKEN) {
        headers["x-pointgate-router"] = process.env.POINTGATE_ROUTER_TOKEN;
      }
      return headers;
    },
  },
});
