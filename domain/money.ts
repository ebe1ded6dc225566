// Money is integer cents everywhere inside: sums stay exact. Decimals exist
// only at the API (the seed shows 99.99).

const MAX_CENTS = 1e12;

/** Cents from a decimal with at most two places, or undefined if it has more. */
export function toCents(amount: number): number | undefined {
  if (!Number.isFinite(amount)) return undefined;
  const cents = Math.round(amount * 100);
  // The tolerance grows with the amount: a double's rounding error does too.
  const tolerance = Math.max(1e-6, Math.abs(amount) * 100 * 4 * Number.EPSILON);
  if (Math.abs(cents - amount * 100) > tolerance || Math.abs(cents) > MAX_CENTS) return undefined;
  return cents;
}

export const toDecimal = (cents: number): number => cents / 100;
