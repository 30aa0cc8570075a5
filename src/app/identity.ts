import { execFile } from "node:child_process";
import os from "node:os";
import type { Identity } from "../core/audit/chain.js";

function gitEmail(cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("git", ["config", "user.email"], { cwd, timeout: 2000 }, (error, stdout) => {
      const email = error ? "" : stdout.trim();
      resolve(email.length > 0 ? email : null);
    });
  });
}

/**
 * Who is acting: LIFELINE_USER, else the git user email, else the OS user; with the host. Not
 * authenticated (anyone can set LIFELINE_USER): the server will bring authenticated identities.
 */
export async function currentIdentity(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): Promise<Identity> {
  const host = os.hostname();
  const fromEnv = env.LIFELINE_USER?.trim();
  if (fromEnv) return { id: fromEnv, source: "env", host, authenticated: false };
  const email = await gitEmail(cwd);
  if (email) return { id: email, source: "git", host, authenticated: false };
  let user = env.USER ?? env.LOGNAME ?? "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): keep the environment's name.
  }
  return { id: user, source: "os", host, authenticated: false };
}
