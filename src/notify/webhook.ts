import { redactUrl, redactValue, secrets } from "../core/redact.js";

export interface Notification {
  /** One line a person reads in the channel. */
  text: string;
  /** Structured facts for bots; no secrets. */
  event: Record<string, unknown>;
}

export interface NotifyFailure {
  webhook: string;
  error: string;
  attempts: number;
}

const ATTEMPTS = 3;
const TIMEOUT_MS = 5000;

/**
 * Posts a Slack-compatible message ({"text": …}, plus the event for other receivers) to every
 * webhook, retrying failures with backoff. Never throws and never decides anything: the caller
 * has already recorded its decision; failures come back to be logged and audited.
 */
export async function notify(
  webhooks: readonly string[],
  message: Notification,
  options: { fetch?: typeof fetch; backoffMs?: number } = {},
): Promise<NotifyFailure[]> {
  const post = options.fetch ?? fetch;
  const backoff = options.backoffMs ?? 500;
  // Whatever a message quotes (a command, SQL, a comment) passes the one redactor before it leaves.
  const body = JSON.stringify({
    text: secrets.redact(message.text),
    lifeline: redactValue(secrets, message.event),
  });
  const failures = await Promise.all(
    webhooks.map(async (url): Promise<NotifyFailure | null> => {
      // The webhook URL is itself a credential (Slack puts the token in the path).
      secrets.add(url);
      let last = "";
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          const response = await post(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
            signal: AbortSignal.timeout(TIMEOUT_MS),
          });
          if (response.ok) return null;
          last = `HTTP ${response.status}`;
          if (response.status >= 400 && response.status < 500 && response.status !== 429) break;
        } catch (error) {
          last = error instanceof Error ? error.message : String(error);
        }
        if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
      }
      return { webhook: describeWebhook(url), error: last, attempts: ATTEMPTS };
    }),
  );
  return failures.filter((f): f is NotifyFailure => f !== null);
}

/** A webhook for messages: scheme and host only (its path is a secret). */
export function describeWebhook(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return redactUrl(url);
  }
}
