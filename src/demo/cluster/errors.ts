/** Errors as the Kubernetes API server returns them: a Status object with a code and a reason. */
import type { RequestInfo } from "./http.js";
import type { ResourceType } from "./model.js";

export class ApiStatusError extends Error {
  /** Warnings admission gathered before the request was refused: the API server sends them too. */
  warnings: string[] = [];

  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export function notFound(type: ResourceType, name: string): ApiStatusError {
  return new ApiStatusError(404, "NotFound", `${resourceLabel(type)} "${name}" not found`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.plural,
  });
}

export function resourceLabel(type: ResourceType): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

export function badRequest(message: string): ApiStatusError {
  return new ApiStatusError(400, "BadRequest", message);
}

export function invalid(type: ResourceType, name: string, message: string): ApiStatusError {
  return new ApiStatusError(422, "Invalid", `${type.kind} "${name}" is invalid: ${message}`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.kind,
  });
}

export function pageNotFound(): ApiStatusError {
  return new ApiStatusError(404, "NotFound", "the server could not find the requested resource", {
    causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
  });
}

export function methodNotAllowed(info: RequestInfo): ApiStatusError {
  return new ApiStatusError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource`,
    {
      ...(info.name ? { name: info.name } : {}),
      ...(info.resource ? { kind: info.resource } : {}),
    },
  );
}
