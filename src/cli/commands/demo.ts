import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { EXIT_CODES } from "../../core/errors.js";
import { out, json, terminalProgress } from "../io.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("demo")
    .description(
      "Run the main job on an embedded PostgreSQL: a small shop database, a restore point, a drill, the status, a plan, the gate; then a table lost and recovered (a standby, the table restored). Cleans up after itself.",
    )
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", "\nExample:\n  lifeline demo\n")
    .action(async (_opts, command: Command) => {
      const options = env.globals(command);
      // Loaded on use: the demo brings the simulated cluster and the Kubernetes client.
      const [{ demo }, { renderDemo }] = await Promise.all([
        import("../../demo/demo.js"),
        import("../render/demo.js"),
      ]);
      const result = await demo({ signal: env.signal, progress: terminalProgress("demo") });
      if (options.json) json(result.json);
      else out(renderDemo(result));
      // Every step counts: a drill that fails, a run that fails, a chain that breaks.
      if (!result.ok) env.setExit(EXIT_CODES.verification);
    });
}
