/** API group of every Meridian resource. */
export const GROUP = 'meridian.dev';

/** The one served and stored version; bump with a conversion plan, never in place. */
export const VERSION = 'v1alpha1';

/** `apiVersion` written on every Meridian object. */
export const API_VERSION = `${GROUP}/${VERSION}` as const;

/** Server-side apply field manager, so Meridian's ownership of fields is visible in managedFields. */
export const FIELD_MANAGER = 'meridian';
