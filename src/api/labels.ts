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
