import { LifelineError } from "../core/errors.js";
import type { Engine } from "../ports/engine.js";
import { postgresEngine, type PostgresEngineOptions } from "./postgres/index.js";

export interface EngineOptions {
  postgres?: PostgresEngineOptions;
}

/** The engines lifeline knows, by the name used in lifeline.yaml. */
export function engineFor(name: string, options: EngineOptions = {}): Engine {
  switch (name) {
    case "postgres":
      return postgresEngine(options.postgres);
    default:
      throw new LifelineError({
        code: "ENGINE_UNSUPPORTED",
        kind: "config",
        message: `engine "${name}" is not supported yet`,
        fix: "use engine: postgres",
      });
  }
}
