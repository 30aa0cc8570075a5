import { formatDuration } from "../core/duration.js";
import { LifelineError } from "../core/errors.js";
import type { BreakGlass } from "../core/approval/approval.js";
import { announce, auditInput, newId, type GateDeps } from "./gate.js";

/** Grants the acting person, for one asset and a bounded time, the right to run without approvals. */
export async function breakGlass(
  deps: GateDeps,
  input: { asset: string; seconds: number; maxSeconds: number; reason: string },
): Promise<BreakGlass> {
  if (input.reason.trim().length < 3) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `break-glass needs a reason of at least 3 characters (the incident, what you will do)${input.reason.trim() === "" ? "" : `; "${input.reason.trim()}" is too short`}`,
      fix: `lifeline break-glass --asset ${input.asset} --for 30m --reason "INC-4411 restore"`,
    });
  }
  if (input.seconds <= 0 || input.seconds > input.maxSeconds) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `break-glass lasts at most ${formatDuration(input.maxSeconds)} (asked: ${formatDuration(Math.max(0, input.seconds))})`,
      fix: `ask for ${formatDuration(input.maxSeconds)} or less (breakGlass.max in lifeline.yaml sets the limit)`,
    });
  }
  const now = deps.clock.now();
  const grant: BreakGlass = {
    id: newId("bg"),
    asset: input.asset,
    identity: deps.identity.id,
    reason: input.reason.trim(),
    grantedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + input.seconds * 1000).toISOString(),
    grantedBy: deps.identity,
    revokedAt: null,
  };
  await deps.catalog.grantBreakGlass(
    grant,
    auditInput(deps, "break-glass", {
      asset: input.asset,
      data: { grant: grant.id, reason: grant.reason, expiresAt: grant.expiresAt, seconds: input.seconds },
    }),
  );
  await announce(
    deps,
    {
      text: `:rotating_light: BREAK-GLASS: ${deps.identity.id}@${deps.identity.host} may run destructive operations on ${input.asset} without approvals until ${grant.expiresAt} (${formatDuration(input.seconds)}). Reason: ${grant.reason}`,
      event: {
        event: "break-glass",
        grant: grant.id,
        asset: input.asset,
        identity: deps.identity.id,
        expiresAt: grant.expiresAt,
        reason: grant.reason,
      },
    },
    null,
    input.asset,
  );
  return grant;
}

/** Ends a break-glass grant before its time (anyone may end one: it only takes a right away). */
export async function endBreakGlass(deps: GateDeps, id: string): Promise<BreakGlass> {
  const grant = (await deps.catalog.breakGlass({})).find((g) => g.id === id);
  if (!grant) {
    throw new LifelineError({
      code: "BREAK_GLASS_UNKNOWN",
      kind: "usage",
      message: `no break-glass grant ${id}`,
      fix: "lifeline status shows the active grants and their ids",
    });
  }
  const at = deps.clock.now().toISOString();
  const done = await deps.catalog.revokeBreakGlass(
    id,
    at,
    auditInput(deps, "break-glass-revoke", {
      asset: grant.asset,
      data: { grant: id, identity: grant.identity },
    }),
  );
  if (!done) {
    throw new LifelineError({
      code: "BREAK_GLASS_ENDED",
      kind: "usage",
      message: `break-glass ${id} already ended`,
      fix: "nothing to do",
    });
  }
  await announce(
    deps,
    {
      text: `Break-glass ${id} on ${grant.asset} for ${grant.identity} ended early by ${deps.identity.id}`,
      event: { event: "break-glass-ended", grant: id, asset: grant.asset, by: deps.identity.id },
    },
    null,
    grant.asset,
  );
  return { ...grant, revokedAt: at };
}
