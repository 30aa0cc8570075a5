/**
 * What `restore --to` and `standby --to` check about the database they are given before anything is
 * touched: that it is not the asset's own database under another spelling of its URL.
 */
import type { DatabaseState, Recovery, Target } from "../ports/engine.js";

/**
 * Is `target` (whose state was just read) the asset's own database? Decided by the server's answer
 * (DatabaseState.identity: the cluster and the database's OID), not by the URL's text: `localhost`
 * and `127.0.0.1`, `?sslmode=disable` or a forwarded port reach the same database. `sameUrl` is the
 * URL comparison, which alone decides when the identities cannot be read (a database that does not
 * exist yet is never the asset's; an asset that cannot be reached now is compared by URL only).
 */
export async function isAssetDatabase(
  recovery: Recovery,
  target: { state: DatabaseState; sameUrl: boolean },
  assetTarget: Target,
): Promise<boolean> {
  if (target.sameUrl) return true;
  if (!target.state.exists || target.state.identity === null) return false;
  try {
    const asset = await recovery.inspect(assetTarget);
    return asset.identity !== null && asset.identity === target.state.identity;
  } catch {
    return false;
  }
}

/** `url` with another database at its end (for a fix line): `…:5432/shop_copy`. */
export function withDatabaseName(display: string, database: string): string {
  try {
    const url = new URL(display);
    url.pathname = "/" + encodeURIComponent(database);
    return url.toString();
  } catch {
    return `postgres://user@host:5432/${database}`;
  }
}
