import type { Recovery } from "../../../ports/engine.js";
import type { PgTools } from "../tools.js";
import {
  dropDatabase,
  emptyDatabase,
  leftovers,
  remains,
  repairSwap,
  setReadOnly,
  stage,
  swap,
  writes,
} from "./databases.js";
import { inspect } from "./inspect.js";
import { lock } from "./lock.js";
import { preflight } from "./preflight.js";
import { restoreTables } from "./tables.js";

/** PostgreSQL's Recovery: restore into live servers beside the target, swap by rename, some tables only. */
export function postgresRecovery(tools: PgTools): Recovery {
  return {
    inspect,
    lock,
    leftovers,
    remains,
    repair: repairSwap,
    stage,
    drop: dropDatabase,
    empty: emptyDatabase,
    swap,
    setReadOnly,
    writes,
    restoreTables: (into, options) => restoreTables(tools, into, options),
    preflight: (manifest) => preflight(tools, manifest),
  };
}
