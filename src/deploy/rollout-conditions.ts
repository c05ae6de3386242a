// The Application's four status conditions for each outcome of the rollout plan. One table, so every
// outcome sets all four, always in the same order, and two outcomes cannot disagree on a reason.

export type PlanConditionType = 'Ready' | 'Progressing' | 'RolledBack' | 'Stalled';

export interface PlanCondition {
  readonly type: PlanConditionType;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration: number;
}

/** What the plan decided, as far as the conditions tell it. */
export type ConditionOutcome =
  | 'NoClusters'
  | 'Progressing'
  | 'Healthy'
  | 'Degraded'
  | 'RollingBack'
  | 'RolledBack'
  | 'RollbackFailed'
  | 'RolloutBlocked'
  | 'RolloutFailed'
  | 'NoRollbackTarget';

/** Messages that differ from the outcome's main one, by condition. */
export type ConditionMessages = Partial<Record<PlanConditionType, string>>;

type Cell = readonly [status: PlanCondition['status'], reason: string];

const T = (reason: string): Cell => ['True', reason];
const F = (reason: string): Cell => ['False', reason];

/** Status and reason of Ready, Progressing, RolledBack and Stalled, in that order. */
const TABLE: Readonly<Record<ConditionOutcome, readonly [Cell, Cell, Cell, Cell]>> = {
  NoClusters: [F('NoClusters'), T('WaitingForClusters'), F('NoClusters'), F('NoClusters')],
  Progressing: [F('Progressing'), T('RollingOut'), F('NotRolledBack'), F('Progressing')],
  Healthy: [T('Healthy'), F('RolloutComplete'), F('NotRolledBack'), F('Healthy')],
  Degraded: [F('Degraded'), F('Degraded'), F('NotRolledBack'), F('Degraded')],
  RollingBack: [F('RollingBack'), T('RollingBack'), F('RollingBack'), F('RollingBack')],
  RolledBack: [F('RolledBack'), F('RolledBack'), T('RolledBack'), T('RevisionRolledBack')],
  RollbackFailed: [F('RollbackFailed'), F('RollbackFailed'), F('RollbackFailed'), T('RollbackFailed')],
  RolloutBlocked: [F('RolloutBlocked'), F('RolloutBlocked'), F('NoRollbackTarget'), T('RolloutBlocked')],
  RolloutFailed: [F('RolloutFailed'), F('RolloutFailed'), F('RolloutFailed'), T('RolloutFailed')],
  NoRollbackTarget: [
    F('NoRollbackTarget'),
    F('NoRollbackTarget'),
    F('NoRollbackTarget'),
    T('NoRollbackTarget'),
  ],
};

/** Ready, Progressing, RolledBack and Stalled for `outcome`, each with `message` unless `messages` names it. */
export function planConditions(
  outcome: ConditionOutcome,
  generation: number,
  message: string,
  messages: ConditionMessages = {},
): PlanCondition[] {
  const [ready, progressing, rolledBack, stalled] = TABLE[outcome];
  const cells = [
    ['Ready', ready],
    ['Progressing', progressing],
    ['RolledBack', rolledBack],
    ['Stalled', stalled],
  ] as const;
  return cells.map(([type, [status, reason]]) => ({
    type,
    status,
    reason,
    message: messages[type] ?? message,
    observedGeneration: generation,
  }));
}
