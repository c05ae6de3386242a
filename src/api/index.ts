// The public face of src/api: resource types, their schemas, CRDs and validation.
export { API_VERSION, FIELD_MANAGER, GROUP, VERSION } from './group.ts';
export * from './common.ts';
export * from './cluster.ts';
export * from './application.ts';
export * from './application-revision.ts';
export * from './global-ingress.ts';
export * from './traffic-policy.ts';
export { AGE_COLUMN, READY_CONDITION_COLUMN } from './kind.ts';
export type { KindDefinition, PrinterColumn } from './kind.ts';
export { isKindName, KIND_NAMES, KINDS } from './kinds.ts';
export type { KindName, MeridianResource, ResourceByKind } from './kinds.ts';
export { allCrds, allCrdsYaml, crdFor, openApiSchemaFor, toStructural } from './crd.ts';
export type { CustomResourceDefinition, JsonSchemaProps } from './crd.ts';
export { assertValidResource, InvalidResourceError, validateResource } from './validate.ts';
export type { ValidationResult } from './validate.ts';
