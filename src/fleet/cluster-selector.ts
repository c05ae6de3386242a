// Label selectors exactly as Kubernetes evaluates them (apimachinery labels.Selector built from a
// metav1.LabelSelector): every matchLabels pair and every matchExpressions requirement must hold.
import type { LabelSelector, LabelSelectorRequirement } from '../api/common.ts';

/** Labels of the thing being selected (a Cluster's metadata.labels). */
export type Labels = Readonly<Record<string, string>>;

function requirementHolds(labels: Labels, req: LabelSelectorRequirement): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    // Kubernetes rejects In/NotIn without values and Exists/DoesNotExist with values; the schema
    // does too, so such a requirement reaching here selects nothing rather than everything.
    case 'In':
      return values.length > 0 && has && values.includes(labels[req.key] as string);
    case 'NotIn':
      // A missing label satisfies NotIn, as in Kubernetes.
      return values.length > 0 && (!has || !values.includes(labels[req.key] as string));
    case 'Exists':
      return values.length === 0 && has;
    case 'DoesNotExist':
      return values.length === 0 && !has;
    default:
      return false;
  }
}

/**
 * Whether `labels` satisfy `selector`. An empty selector (`{}`) selects everything, as in
 * Kubernetes; callers decide what an absent selector means.
 */
export function matchesSelector(labels: Labels, selector: LabelSelector): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(labels, key) || labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => requirementHolds(labels, req));
}
