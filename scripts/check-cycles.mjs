#!/usr/bin/env node
/**
 * Fails when the modules under src/ import each other in a cycle. Every import, re-export and
 * `import()` counts, type-only ones too (a type cycle or a lazy one is a layering cycle all the
 * same). Uses the TypeScript compiler's own import scanner, so comments and strings never count.
 *
 *   node scripts/check-cycles.mjs [root]      (default root: src)
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import ts from "typescript";

const root = path.resolve(process.argv[2] ?? "src");

function sources(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (/\.(ts|tsx|mts|cts)$/.test(entry) && !entry.endsWith(".d.ts")) out.push(full);
  }
  return out.sort();
}

/** A relative specifier as written in ESM TypeScript ("./x.js") to the file it names. */
function resolve(from, specifier) {
  if (!specifier.startsWith(".")) return null;
  const base = path.resolve(path.dirname(from), specifier);
  const stem = base.replace(/\.(m|c)?js$/, "");
  const candidates = [
    base,
    `${stem}.ts`,
    `${stem}.tsx`,
    `${stem}.mts`,
    `${stem}.cts`,
    path.join(base, "index.ts"),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

/** The files under root that a file imports, re-exports or loads with import(). */
function imports(file) {
  const text = readFileSync(file, "utf8");
  const { importedFiles } = ts.preProcessFile(text, true, false);
  return importedFiles
    .map((f) => resolve(file, f.fileName))
    .filter((f) => f !== null && f.startsWith(root + path.sep));
}

const files = sources(root);
const graph = new Map(files.map((f) => [f, [...new Set(imports(f))]]));

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let index = 0;
const indices = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
function connect(v) {
  indices.set(v, index);
  low.set(v, index);
  index += 1;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!indices.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), indices.get(w)));
    }
  }
  if (low.get(v) === indices.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
  }
}
for (const f of files) if (!indices.has(f)) connect(f);

/** One shortest cycle through the first file of a component, for the message. */
function cycleThrough(component) {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const cycle = [start];
        for (let u = v; u !== start; u = previous.get(u)) cycle.splice(1, 0, u);
        return [...cycle, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const out = (line) => process.stdout.write(`${line}\n`);
const err = (line) => process.stderr.write(`${line}\n`);
const rel = (f) => path.relative(process.cwd(), f);
if (components.length === 0) {
  out(`no import cycles in ${rel(root) || "."} (${files.length} files)`);
} else {
  err(`import cycles in ${rel(root) || "."}: ${components.length}`);
  for (const component of components) {
    err(`  ${cycleThrough(component).map(rel).join(" → ")}`);
    if (component.length > 2)
      err(`    (${component.length} files take part: ${component.map(rel).sort().join(", ")})`);
  }
  err("fix: move what both sides need into a module that imports neither, or invert the dependency");
  process.exitCode = 1;
}
