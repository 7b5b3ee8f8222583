// Hive Gateway in front of Pointgate and the example reviews subgraph (infra/deploy/compose.yaml,
// tests/infra/test_federation_gateway.py). Run from this folder:
//   SUPERGRAPH=supergraph.graphql POINTGATE_ROUTER_TOKEN=... npx hive-gateway supergraph
import { defineConfig } from "@graphql-hive/gateway";

// One id per client request, the same on every subgraph fetch it causes: Pointgate bills and
// rate-limits a client operation once, trusting this header only with the router's credential.
const operations = new WeakMap();

export const gatewayConfig = defineConfig({
  supergraph: process.env.SUPERGRAPH || "./supergraph.graphql",
  port: Number(process.env.PORT || 4000),
  host: process.env.HOST || "0.0.0.0",
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      let operation = operations.get(request);
      if (!operation) {
        operation = crypto.randomUUID();
        operations.set(request, operation);
      }
      const headers = { "x-pointgate-operation": operation };
      const authorization = request.headers.get("authorization");
      if (authorization) headers.authorization = authorization;
      if (process.env.POINTGATE_ROUTER_TOKEN) {
        headers["x-pointgate-router"] = process.env.POINTGATE_ROUTER_TOKEN;
      }
      return headers;
    },
  },
});
