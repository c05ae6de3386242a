// The one shape of an order request, checked the same way by APP 1 (before calling APP 2) and
// APP 2 (which owns the API): a 400 names the field that is wrong.
import { HttpError } from './http-error.ts';

export interface OrderInput {
  readonly item: string;
  readonly quantity: number;
}

export const MAX_QUANTITY = 1000;
const ITEM_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function parseOrderInput(body: unknown): OrderInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'the body must be a JSON object {"item": "...", "quantity": n}', 'body');
  }
  const { item, quantity } = body as Record<string, unknown>;
  if (typeof item !== 'string' || !ITEM_ID.test(item)) {
    throw new HttpError(400, 'item must be an item id (lowercase letters, digits and dashes)', 'item');
  }
  if (
    typeof quantity !== 'number' ||
    !Number.isInteger(quantity) ||
    quantity < 1 ||
    quantity > MAX_QUANTITY
  ) {
    throw new HttpError(400, `quantity must be an integer from 1 to ${MAX_QUANTITY}`, 'quantity');
  }
  return { item, quantity };
}

/** An order id from a path segment: a positive integer. */
export function parseOrderId(raw: string): number {
  const id = /^[1-9]\d{0,14}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) throw new HttpError(400, 'id must be a positive integer', 'id');
  return id;
}
