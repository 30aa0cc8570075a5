import type { RestoredTables } from "../core/posture/posture.js";
import type { Clock } from "../ports/clock.js";
import type { Engine, Progress } from "../ports/engine.js";
import type { Repository } from "../ports/repository.js";
import type { Scratch } from "../ports/scratch.js";

/** Everything a use case needs, wired by the CLI (or a test) from the config. */
export interface AppContext {
  engine(name: string): Engine;
  repository: Repository;
  scratch(setting: "embedded" | { url: string }): Scratch;
  clock: Clock;
  progress: Progress;
  signal: AbortSignal;
  backup: { jobs: number; compression: number };
  /**
   * The second repositories (copies: in lifeline.yaml) a verified restore point is copied to and
   * that retention prunes with the same rules; built when asked (none when left out).
   */
  copies?: () => CopyTarget[];
  /**
   * The tables `restore --tables` put back into an asset's database, from the audit log: the
   * changes not covered by its restore point then count from the restore (as status does). Left
   * out (serve: the webhook judges without a catalog read per request), they count as before.
   */
  restored?: (asset: string) => Promise<readonly RestoredTables[]>;
}

/** A second repository (3-2-1). */
export interface CopyTarget {
  repository: Repository;
  /**
   * Throws when writing what `from` holds there is refused: an encrypted repository copied into
   * object storage without encryption, unless the copy allows plaintext.
   */
  refuse(from: Repository): Promise<void>;
}
