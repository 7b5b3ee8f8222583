// Composes subgraph SDL files into a supergraph the way Hive Gateway does, and fails with the
// composition errors if they do not compose.
//   node compose.mjs name=file.graphql[=http://host:port/graphql] ...
// Without a URL a subgraph is given http://<name>.local/graphql (enough for a composition check).
import { readFileSync } from "node:fs";
import { parse } from "graphql";
import { composeServices } from "@theguild/federation-composition";

const services = process.argv.slice(2).map((argument) => {
  const [name, file, ...url] = argument.split("=");
  return {
    name,
    typeDefs: parse(readFileSync(file, "utf8")),
    url: url.length ? url.join("=") : `http://${name}.local/graphql`,
  };
});
const result = composeServices(services);
if (result.errors && result.errors.length) {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
process.stdout.write(result.supergraphSdl);
