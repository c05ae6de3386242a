// Renders a kustomization with `kubectl kustomize` (the kustomize built into kubectl).
import { execFile } from 'node:child_process';
import { parseManifestStream } from './render-manifests.ts';
import type { ObjectsResult } from './render-manifests.ts';

export interface KustomizeRenderInput {
  readonly kubectlPath: string;
  /** Kustomization directory (or a remote kustomize target). */
  readonly dir: string;
  /** Application field that names the directory, e.g. spec.source.kustomize.path. */
  readonly field: string;
  readonly signal?: AbortSignal;
  /** Kills kubectl after this long (default 2 minutes): remote bases can hang. */
  readonly timeoutMs?: number;
}

/** kustomize's own message: the `Error:` line(s) without the prefix. */
export function kustomizeErrorMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const start = lines.findIndex((l) => l.startsWith('error:') || l.startsWith('Error:'));
  const text = (start >= 0 ? lines.slice(start) : lines)
    .slice(0, 3)
    .join(' ')
    .replace(/^error:\s*/i, '');
  return text || 'kustomize failed without a message';
}

/** Runs `kubectl kustomize DIR` and parses its output. */
export function renderKustomize(input: KustomizeRenderInput): Promise<ObjectsResult> {
  input.signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    execFile(
      input.kubectlPath,
      ['kustomize', input.dir],
      {
        signal: input.signal,
        timeout: input.timeoutMs ?? 120_000,
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'utf8',
        // kubectl must not pick up a kubeconfig or talk to any cluster for this.
        env: { ...process.env, KUBECONFIG: '/dev/null' },
      },
      (error, stdout, stderr) => {
        if (input.signal?.aborted) {
          reject(input.signal.reason as Error);
          return;
        }
        if (error) {
          const message = stderr ? kustomizeErrorMessage(stderr) : error.message;
          resolve({
            ok: false,
            errors: [{ code: 'KustomizeFailed', field: input.field, message: `kustomize build: ${message}` }],
          });
          return;
        }
        const parsed = parseManifestStream(stdout, { name: 'kustomize build output', field: input.field });
        resolve(
          parsed.ok
            ? parsed
            : { ok: false, errors: parsed.errors.map((e) => ({ ...e, code: 'KustomizeFailed' })) },
        );
      },
    );
  });
}
