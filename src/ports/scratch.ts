import type { DatabaseLocale } from "../core/restore-point/restore-point.js";
import type { Target } from "./engine.js";

export interface ScratchInstance {
  readonly kind: string;
  readonly target: Target;
  readonly serverVersion: string;
  /**
   * Removes everything provisioning made (database, directory, server process), also after the
   * provision's signal aborted. Always safe to call, more than once too.
   */
  teardown(): Promise<void>;
}

/**
 * Where drills restore: never the source database. Every adapter runs the contract suite in
 * test/contracts/scratch.contract.ts.
 */
export interface Scratch {
  readonly kind: string;
  provision(options: {
    minMajor: number;
    encoding: string;
    /** The source database's locale (default: C). */
    locale?: DatabaseLocale | null;
    /**
     * An abort during provisioning rejects with INTERRUPTED and leaves nothing behind (an adapter
     * that cannot be interrupted may finish; its instance is then torn down as usual).
     */
    signal: AbortSignal;
    /**
     * Name of the database to create (default: a unique drill database). A wish: an adapter on a
     * shared server picks a unique name instead; the target is never the source either way.
     */
    database?: string;
  }): Promise<ScratchInstance>;
}
