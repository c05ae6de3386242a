// The labels and annotations Meridian puts on objects, defined once: every service that writes or
// reads one imports it from here, so no two spellings of the same label can drift apart.

/** The standard label naming the tool that manages an object; Meridian's value is MANAGED_BY. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'meridian';

/**
 * On everything an Application deploys to a member (value `<namespace>.<name>`, see
 * applicationLabelValue) and on its ApplicationRevisions in the hub (value: the Application's name).
 */
export const APPLICATION_LABEL = 'meridian.dev/application';

/** On everything an Application deploys: the revision number it came from. */
export const REVISION_ANNOTATION = 'meridian.dev/revision';

/**
 * On Applications and GlobalIngresses in the hub: their controller removes what they put in the
 * members before the object goes.
 */
export const FINALIZER = 'meridian.dev/cleanup';

/** `meridian app rollback` writes `<revision>@<request time>` here; each value is handled once. */
export const ROLLBACK_ANNOTATION = 'meridian.dev/rollback-to';

/** Annotations on each ServiceImport saying which endpoints are in use there and why. */
export const ACTIVE_GROUP_ANNOTATION = 'meridian.dev/active-group';
export const REASON_ANNOTATION = 'meridian.dev/failover-reason';

/** On every object `meridian cluster join` creates in a member for the hub's identity. */
export const HUB_ACCESS_LABEL = 'meridian.dev/hub-access';

/**
 * On the hub's credentials Secret of a member: where the hub may deploy there, `*` (the whole
 * cluster) or `a,b` (`cluster join --namespaces`); the hub watches only those namespaces then.
 */
export const MEMBER_NAMESPACES_ANNOTATION = 'meridian.dev/member-namespaces';
