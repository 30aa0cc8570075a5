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
}
