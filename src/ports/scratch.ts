import type { DatabaseLocale } from "../core/restore-point.js";
import type { Target } from "./engine.js";

export interface ScratchInstance {
  readonly kind: string;
  readonly target: Target;
  readonly serverVersion: string;
  /** Always safe to call, more than once too. */
  teardown(): Promise<void>;
}

/** Where drills restore: never the source database. */
export interface Scratch {
  readonly kind: string;
  provision(options: {
    minMajor: number;
    encoding: string;
    /** The source database's locale (default: C). */
    locale?: DatabaseLocale | null;
    signal: AbortSignal;
    /** Name of the database to create (default: a unique drill database). */
    database?: string;
  }): Promise<ScratchInstance>;
}
