import path from "node:path";
import { LifelineError } from "../../core/errors.js";
import { parseToolVersion } from "../../core/versions.js";
import { run } from "../../support/process.js";

export type ToolName = "pg_dump" | "pg_restore";

export interface ToolInfo {
  path: string;
  version: string;
  major: number;
}

/** Finds pg_dump / pg_restore: an explicit directory (config `tools.pgBin` or LIFELINE_PG_BIN) or PATH. */
export class PgTools {
  private readonly cache = new Map<ToolName, Promise<ToolInfo>>();

  constructor(private readonly binDir: string | undefined) {}

  path(tool: ToolName): string {
    return this.binDir ? path.join(this.binDir, tool) : tool;
  }

  info(tool: ToolName): Promise<ToolInfo> {
    let pending = this.cache.get(tool);
    if (!pending) {
      pending = this.probe(tool);
      this.cache.set(tool, pending);
    }
    return pending;
  }

  private async probe(tool: ToolName): Promise<ToolInfo> {
    const toolPath = this.path(tool);
    const { stdout } = await run(toolPath, ["--version"], {
      captureStdout: true,
      purpose: `${tool} --version`,
    });
    const parsed = parseToolVersion(stdout);
    if (!parsed) {
      throw new LifelineError({
        code: "TOOL_VERSION_UNKNOWN",
        kind: "runtime",
        message: `cannot tell the version of ${toolPath} (it printed: ${stdout.trim().slice(0, 120)})`,
        fix: "point `tools.pgBin` in lifeline.yaml or LIFELINE_PG_BIN at a PostgreSQL client installation",
      });
    }
    return { path: toolPath, ...parsed };
  }
}
