import type { DatabaseState, Target } from "../../../ports/engine.js";

/** See Recovery.inspect. */
export function inspect(target: Target): Promise<DatabaseState> {
  void target;
  return Promise.reject(new Error("inspect: not implemented yet"));
}
