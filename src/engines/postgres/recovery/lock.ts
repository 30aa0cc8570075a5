import type { RecoveryLock, Target } from "../../../ports/engine.js";

/** See Recovery.lock. */
export function lock(target: Target): Promise<RecoveryLock | null> {
  void target;
  return Promise.reject(new Error("lock: not implemented yet"));
}
