import type { DatabaseLocale } from "../../../core/restore-point/restore-point.js";
import type { Target } from "../../../ports/engine.js";

const todo = (what: string) => Promise.reject(new Error(`${what}: not implemented yet`));

/** See Recovery.leftovers. */
export function leftovers(target: Target): Promise<string[]> {
  void target;
  return todo("leftovers");
}

/** See Recovery.stage. */
export function stage(
  target: Target,
  options: { nonce: string; encoding: string; locale: DatabaseLocale | null; like: Target | null },
): Promise<Target> {
  void target;
  void options;
  return todo("stage");
}

/** See Recovery.drop. */
export function dropDatabase(target: Target): Promise<void> {
  void target;
  return todo("drop");
}

/** See Recovery.swap. */
export function swap(
  target: Target,
  replacement: Target,
  previousName: string | null,
): Promise<{ terminated: number; unavailableMs: number }> {
  void target;
  void replacement;
  void previousName;
  return todo("swap");
}

/** See Recovery.setReadOnly. */
export function setReadOnly(target: Target, readOnly: boolean): Promise<void> {
  void target;
  void readOnly;
  return todo("setReadOnly");
}
