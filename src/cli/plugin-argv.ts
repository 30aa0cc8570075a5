/**
 * `kubectl lifeline …` (the krew plugin convention: kubectl runs `kubectl-lifeline` with the words
 * after `lifeline`). `plan` and `run` take the kubectl words directly, lifeline's own options
 * first:
 *   kubectl lifeline plan delete pvc data-0 -n shop        → lifeline plan -- kubectl delete pvc data-0 -n shop
 *   kubectl lifeline run --json delete pvc data-0 -n shop  → lifeline run --json -- kubectl delete pvc data-0 -n shop
 *   kubectl lifeline plan -- helm uninstall pg -n shop     → lifeline plan -- helm uninstall pg -n shop
 * Every other command passes through unchanged (kubectl lifeline status → lifeline status).
 */

/** lifeline's options of plan and run that take a value (the next word). */
const VALUE_OPTIONS = new Set(["-c", "--config", "--kubeconfig", "--context", "--sql", "-f", "--file"]);
const TOOLS = new Set(["kubectl", "helm"]);

export function pluginArgv(args: readonly string[]): string[] {
  const [command, ...rest] = args;
  if (command !== "plan" && command !== "run") return [...args];
  const own: string[] = [];
  let i = 0;
  while (i < rest.length) {
    const word = rest[i] ?? "";
    if (word === "--") {
      i++;
      break;
    }
    if (!word.startsWith("-")) break;
    own.push(word);
    if (VALUE_OPTIONS.has(word) && i + 1 < rest.length) {
      own.push(rest[i + 1] ?? "");
      i += 2;
    } else i++;
  }
  const words = rest.slice(i);
  // Nothing to plan (e.g. --help, or an SQL plan with an asset name): lifeline says what it needs.
  if (words.length === 0) return [command, ...own];
  const tool = TOOLS.has(words[0] ?? "") ? [] : ["kubectl"];
  return [command, ...own, "--", ...tool, ...words];
}
