/**
 * The checkout the tests belong to: its README, fixtures, sources and built CLI. scripts/test.mjs
 * runs the tests compiled to JavaScript from another folder, and names the checkout in
 * LIFELINE_TEST_REPO; run with tsx in place, it is two folders up from here.
 */
import path from "node:path";

export const REPO = process.env.LIFELINE_TEST_REPO ?? path.resolve(import.meta.dirname, "../..");

/** A path inside the checkout. */
export function inRepo(...parts: string[]): string {
  return path.join(REPO, ...parts);
}
