/**
 * Sluice: an L4 (TCP and UDP) proxy and load balancer. Runs unchanged under
 * `deno run -A mod.ts`, `bun run mod.ts` and `node mod.ts` (Node >= 22.18 strips the types).
 *
 * @module
 */
import { main } from "./src/main.ts";
import { selectRuntime } from "./src/runtime/select.ts";

const runtime = selectRuntime();
runtime.host.exit(await main(runtime));
