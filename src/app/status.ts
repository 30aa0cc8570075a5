import { computePosture, type Posture } from "../core/posture.js";
import type { ResolvedAsset } from "../config/load.js";
import type { AppContext } from "./context.js";

export interface AssetStatusInput {
  name: string;
  /** Null when the asset's config could not be resolved (e.g. a missing environment variable). */
  asset: ResolvedAsset | null;
  tier: string;
  rpoSeconds: number;
  resolveError: string | null;
}

/** Posture of each asset: what the repository holds, what drills proved, and how far the live data moved since. */
export async function status(ctx: AppContext, inputs: readonly AssetStatusInput[]): Promise<Posture[]> {
  return Promise.all(
    inputs.map(async (input) => {
      const [restorePoints, drills] = await Promise.all([
        ctx.repository.listRestorePoints(input.name),
        ctx.repository.listDrillReports(input.name),
      ]);
      let live: Parameters<typeof computePosture>[0]["live"];
      if (!input.asset) {
        live = { error: input.resolveError ?? "not configured" };
      } else {
        const engine = ctx.engine(input.asset.engine);
        try {
          live = await engine.live(engine.target(input.asset.url));
        } catch (error) {
          live = { error: error instanceof Error ? error.message : String(error) };
        }
      }
      return computePosture({
        asset: { name: input.name, tier: input.tier, rpoTargetSeconds: input.rpoSeconds },
        restorePoints,
        drills,
        live,
        now: ctx.clock.now(),
      });
    }),
  );
}
