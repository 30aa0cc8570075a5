import { readFileSync } from "node:fs";

function readVersion(): string {
  for (const candidate of ["../../package.json", "../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "lifeline" && pkg.version) return pkg.version;
    } catch {
      // try the next layout (src/ under tsx, dist/ when built)
    }
  }
  return "0.0.0";
}

export const LIFELINE_VERSION = readVersion();
