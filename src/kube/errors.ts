// Errors a user can act on: a stable code plus one message that names the object and the field.

/** An error with a stable machine-readable code; the CLI maps it to its exit code and message. */
export class MeridianError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'MeridianError';
  }
}

/** Message of any thrown value, without stack noise. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
