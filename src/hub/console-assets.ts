// Serves the built web console under /console/. The files hold no data (every view reads the
// authenticated API with the user's token), so they are served without a token; the headers keep
// the page from being framed or from loading anything but its own files and this hub's API.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

export const CONSOLE_PATH = '/console/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/**
 * The file under `root` that a /console/ path names: index.html for the console's own routes
 * (paths without an extension), undefined for anything outside `root` (`..`, encoded or not).
 */
export function consoleFile(root: string, pathname: string): string | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice(CONSOLE_PATH.length));
  } catch {
    return undefined;
  }
  if (rel.includes('\0')) return undefined;
  if (rel === '' || extname(rel) === '') return join(root, 'index.html');
  const file = normalize(join(root, rel));
  return file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : undefined;
}

/** Answers a GET/HEAD under /console/ from `root` (the built console), or says how to build it. */
export async function serveConsole(
  root: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<void> {
  if (!root) {
    res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', ...CONSOLE_HEADERS });
    res.end(
      'The web console is not built: run `meridian fleet build` (or `fleet up`), then restart the hub.\n',
    );
    return;
  }
  const file = consoleFile(root, pathname);
  const info = file ? await stat(file).catch(() => undefined) : undefined;
  if (!file || !info?.isFile()) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...CONSOLE_HEADERS });
    res.end('not found\n');
    return;
  }
  // Vite names assets by content hash, so they never change; index.html must always be fresh.
  const immutable = file.includes(`${sep}assets${sep}`);
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(info.size),
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...CONSOLE_HEADERS,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // pipeline, not pipe: when the client leaves before the end, the file is closed too (pipe only
  // unpipes, and the file stayed open for good).
  pipeline(createReadStream(file), res, () => undefined);
}
