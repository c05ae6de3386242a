// TypeBox rejects any string `format` it has no checker for, so every format used in a schema is
// registered here; the CRD keeps the same format names, which the API server validates itself.
import { FormatRegistry } from '@sinclair/typebox';
import { isIPv4, isIPv6 } from 'node:net';

// RFC 3339 as Kubernetes writes it (metav1.Time): seconds precision, optional fraction, Z or offset.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const FORMATS: Readonly<Record<string, (value: string) => boolean>> = {
  ipv4: (v) => isIPv4(v),
  ipv6: (v) => isIPv6(v),
  'date-time': (v) => DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)),
  uri: (v) => URL.canParse(v),
};

/** Registers the string formats our schemas use; safe to call more than once. */
export function registerFormats(): void {
  for (const [name, check] of Object.entries(FORMATS)) {
    if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check);
  }
}

registerFormats();
