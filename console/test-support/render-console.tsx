// @jsxRuntime automatic (how tsx must compile this file for the Node tests; Vite does already)
// Runs the real console (App and its views, unchanged) in a jsdom window inside a Node test,
// talking to a real hub over HTTP: the integration tests drive it like a user would and read
// what it shows. Not part of the bundle.
import { JSDOM } from 'jsdom';

export interface RenderedConsole {
  /** Everything the page shows, as text. */
  text(): string;
  query(selector: string): Element | null;
  queryAll(selector: string): Element[];
  /** Types into an input or textarea the way React sees a user's typing. */
  type(selector: string, value: string): void;
  click(selector: string): void;
  navigate(hash: string): void;
  token(): string | null;
  close(): Promise<void>;
}

const GLOBALS = [
  'window',
  'document',
  'sessionStorage',
  'location',
  'navigator',
  'addEventListener',
  'removeEventListener',
  'HTMLElement',
  'Node',
  'Event',
  'fetch',
  'IS_REACT_ACT_ENVIRONMENT',
] as const;

/** Renders the console as served at `${baseUrl}/console/`, signed in with `token` when given. */
export async function renderConsole(baseUrl: string, token?: string): Promise<RenderedConsole> {
  const dom = new JSDOM('<!doctype html><html><body><div id="root"></div></body></html>', {
    url: `${baseUrl}/console/`,
    pretendToBeVisual: true,
  });
  const w = dom.window;
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = new Map(GLOBALS.map((k) => [k, Object.getOwnPropertyDescriptor(g, k)]));
  const nodeFetch = globalThis.fetch;
  const define = (k: string, v: unknown): void => {
    Object.defineProperty(g, k, { value: v, configurable: true, writable: true });
  };
  define('window', w);
  define('document', w.document);
  define('sessionStorage', w.sessionStorage);
  define('location', w.location);
  define('navigator', w.navigator);
  define('addEventListener', w.addEventListener.bind(w));
  define('removeEventListener', w.removeEventListener.bind(w));
  define('HTMLElement', w.HTMLElement);
  define('Node', w.Node);
  define('Event', w.Event);
  define('IS_REACT_ACT_ENVIRONMENT', false);
  // The page's relative URLs resolve against the hub, as in a browser.
  define('fetch', (input: string | URL, init?: RequestInit) =>
    nodeFetch(new URL(String(input), baseUrl), init),
  );
  if (token) w.sessionStorage.setItem('meridian.token', token);

  const { createRoot } = await import('react-dom/client');
  const { App } = await import('../src/App.tsx');
  const rootEl = w.document.getElementById('root');
  if (!rootEl) throw new Error('no #root');
  const root = createRoot(rootEl);
  root.render(<App />);

  const must = (selector: string): Element => {
    const el = w.document.querySelector(selector);
    if (!el)
      throw new Error(`no element matches ${selector}; the page shows: ${w.document.body.textContent ?? ''}`);
    return el;
  };
  return {
    text: () => w.document.body.textContent ?? '',
    query: (s) => w.document.querySelector(s),
    queryAll: (s) => [...w.document.querySelectorAll(s)],
    type(selector, value) {
      const el = must(selector) as HTMLInputElement | HTMLTextAreaElement;
      const proto =
        el instanceof w.HTMLTextAreaElement ? w.HTMLTextAreaElement.prototype : w.HTMLInputElement.prototype;
      Object.getOwnPropertyDescriptor(proto, 'value')?.set?.call(el, value);
      el.dispatchEvent(new w.Event('input', { bubbles: true }));
    },
    click(selector) {
      (must(selector) as HTMLElement).click();
    },
    navigate(hash) {
      w.location.hash = hash;
    },
    token: () => w.sessionStorage.getItem('meridian.token'),
    async close() {
      root.unmount();
      // React's scheduler may still run a task after unmount; let it see the window.
      await new Promise((r) => setTimeout(r, 50));
      w.close();
      for (const [k, d] of saved) {
        if (d) Object.defineProperty(g, k, d);
        else delete g[k];
      }
    },
  };
}
