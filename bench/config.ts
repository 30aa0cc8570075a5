/**
 * Benchmark (not a test): parsing lifeline.yaml with many assets. Parse time should grow linearly
 * with the number of assets (v0.1: 50,000 assets took 28 s, 200,000 over 15 minutes, because the
 * yaml library compared every key of a map with every other).
 *
 *   node --import tsx bench/config.ts          # BENCH_SIZES=1000,10000,50000,200000 by default
 */
import { parseConfig } from "../src/config/load.js";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,50000,200000").split(",").map(Number);

function generate(assets: number): string {
  const parts = ["repository:\n  path: ./repo\nassets:\n"];
  for (let i = 0; i < assets; i++) parts.push(`  a${i}:\n    url: postgres://u@h:5432/d${i}\n    rpo: 24h\n`);
  return parts.join("");
}

for (const size of SIZES) {
  const text = generate(size);
  const started = performance.now();
  const config = parseConfig(text, "bench.yaml", {});
  const ms = performance.now() - started;
  const count = Object.keys(config.assets).length;
  console.log(
    `${String(count).padStart(7)} assets: ${ms.toFixed(0).padStart(6)} ms (${((ms / count) * 1000).toFixed(1)} µs per asset)`,
  );
}
