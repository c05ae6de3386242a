// @jsxRuntime automatic (how tsx must compile this file for the Node tests; Vite does already)
// The query bar every view has: a form whose submit runs the view's query instead of navigating.
import type { ReactElement, ReactNode } from 'react';

export function Toolbar({ onSubmit, children }: { onSubmit: () => void; children: ReactNode }): ReactElement {
  return (
    <form
      className="toolbar"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {children}
    </form>
  );
}

/** A failed request's message and the answer's warnings (e.g. clusters that did not answer). */
export function Problems({
  error,
  warnings = [],
}: {
  error?: string;
  warnings?: readonly string[];
}): ReactElement {
  return (
    <>
      {error && <p className="error">{error}</p>}
      {warnings.map((w) => (
        <p key={w} className="warning">
          {w}
        </p>
      ))}
    </>
  );
}
